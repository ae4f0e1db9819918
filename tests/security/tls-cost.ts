// The cost of TLS on the RPC transports, measured on real processes: handshake time of
// a fresh connection, and CPU per 1,000 messages on the handler and the caller, for
// cleartext, TLS and mutual TLS. A benchmark that prints figures, not a test:
//   node_modules/.bin/node tests/security/tls-cost.ts [messages per row, default 5000] [rounds, default 3]
// The modes alternate within each round, and each figure is the median over the rounds,
// so a neighbour's load on a shared machine skews no mode alone.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { create } from "@bufbuild/protobuf";
import { WorkSchema } from "@switchyard/contracts";
import type { Sender } from "@switchyard/measurement";
import { ROOT } from "../support/process.ts";
import { ConnectSender } from "../../services/producer/src/senders/connect.ts";
import { GrpcSender } from "../../services/producer/src/senders/grpc.ts";
import type { ClientTlsOptions } from "../../services/producer/src/senders/sender.ts";
import { createPki, createSecretMount } from "./support/pki.ts";

const MESSAGES = Number(process.argv[2] ?? 5000);
const ROUNDS = Number(process.argv[3] ?? 3);
const CONCURRENCY = 32;
const HANDSHAKES = 200;
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

type Mode = "cleartext" | "tls" | "mtls";

const pki = createPki();
const ca = await pki.createCa("cost-ca");
const serverCert = await ca.issue({ commonName: "handler", altNames: ["IP:127.0.0.1"] });
const client = await ca.issue({ commonName: "producer" });
const mount = createSecretMount(pki.dir, "handler", { "tls.crt": serverCert.cert, "tls.key": serverCert.key, "ca.crt": ca.cert });

/** Starts the handler as its own process in `mode`; resolves with its URLs once both listen. */
async function startHandler(mode: Mode): Promise<{ child: ChildProcess; http: string; h2: string }> {
  const tlsEnv = mode === "cleartext" ? {} : { TLS_DIR: mount.dir, ...(mode === "mtls" && { TLS_CLIENT_CA: `${mount.dir}/ca.crt`, TLS_ALLOWED_CLIENTS: "CN=producer" }) };
  const child = spawn(process.execPath, ["services/handler/src/main.ts"], {
    cwd: ROOT,
    // A closed broker port: the RPC listeners serve while the consumer retries.
    env: { PATH: process.env.PATH ?? "", HTTP_PORT: "0", H2C_PORT: "0", BIND_HOST: "127.0.0.1", LOG_LEVEL: "info", AMQP_URL: "amqp://guest:guest@127.0.0.1:1/", ...tlsEnv },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const urls: Record<string, string> = {};
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("handler did not start")), 30_000);
    let buffered = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      for (const match of buffered.matchAll(/"listener":"(http|h2c)".*?Server listening at (https?:\/\/127\.0\.0\.1:\d+)/g)) urls[match[1]!] = match[2]!;
      if (urls.http && urls.h2c) {
        clearTimeout(timer);
        child.stdout!.resume();
        resolve();
      }
    });
  });
  return { child, http: urls.http!, h2: urls.h2c! };
}

/** CPU seconds (user + system) `pid` has used so far. */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Median and 99th percentile of `samples`, in milliseconds. */
function quantiles(samples: number[]): { p50: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: sorted[Math.floor(sorted.length * 0.5)]!, p99: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]! };
}

/** Time from connect to ready (TCP connected, or TLS handshake done) of `HANDSHAKES` fresh connections. */
async function handshakeTimes(url: string, mode: Mode): Promise<number[]> {
  const { port } = new URL(url);
  const times: number[] = [];
  for (let i = 0; i < HANDSHAKES; i++) {
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        times.push(performance.now() - started);
        socket.destroy();
        resolve();
      };
      const socket =
        mode === "cleartext"
          ? tcpConnect(Number(port), "127.0.0.1", done)
          : tlsConnect({ host: "127.0.0.1", port: Number(port), ca: ca.cert, ALPNProtocols: ["h2"], ...(mode === "mtls" && { cert: client.cert, key: client.key }) }, done);
      socket.once("error", reject);
    });
  }
  return times;
}

/** Sends `MESSAGES` through `sender`, `CONCURRENCY` at a time; resolves with the failures. */
async function load(sender: Sender): Promise<number> {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < MESSAGES) {
      const id = `cost-${next++}-${Math.random()}`;
      const { outcome } = await sender.send(create(WorkSchema, { id, producerId: "tls-cost", payload: new Uint8Array(256) }), 10_000);
      if (outcome !== "ok") failed += 1;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return failed;
}

type Figures = { handshakeP50: number; handshakeP99: number; handlerUs: number; callerUs: number; rate: number; failed: number };
const measured = new Map<string, Figures[]>();
// The PKI goes whatever happens; each handler is stopped in its own finally.
process.once("exit", () => pki.destroy());
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of ["cleartext", "tls", "mtls"] as const) {
    const handler = await startHandler(mode);
    const tls: ClientTlsOptions | undefined = mode === "cleartext" ? undefined : { ca: ca.cert, ...(mode === "mtls" && { cert: client.cert, key: client.key }) };
    try {
      const handshake = quantiles(await handshakeTimes(handler.h2, mode));
      for (const [transport, make] of [
        ["grpc", () => new GrpcSender(handler.h2, tls)],
        ["connect", () => new ConnectSender(handler.http, tls)],
      ] as const) {
        const sender: Sender = make();
        // Warm up: connections open, code paths compiled; not measured.
        await load(sender);
        const [handlerBefore, callerBefore, started] = [cpuSecondsOf(handler.child.pid!), process.cpuUsage(), performance.now()];
        const failed = await load(sender);
        const seconds = (performance.now() - started) / 1000;
        const handlerCpu = cpuSecondsOf(handler.child.pid!) - handlerBefore;
        const callerUsage = process.cpuUsage(callerBefore);
        await sender.close();
        const key = `${mode} | ${transport}`;
        measured.set(key, [
          ...(measured.get(key) ?? []),
          {
            handshakeP50: handshake.p50,
            handshakeP99: handshake.p99,
            handlerUs: (handlerCpu / MESSAGES) * 1e6,
            callerUs: ((callerUsage.user + callerUsage.system) / 1e6 / MESSAGES) * 1e6,
            rate: MESSAGES / seconds,
            failed,
          },
        ]);
      }
    } finally {
      handler.child.kill("SIGTERM");
      await new Promise((resolve) => handler.child.once("exit", resolve));
    }
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const rows = [...measured].map(([key, runs]) => {
  const m = (pick: (figures: Figures) => number) => median(runs.map(pick));
  const failed = runs.reduce((sum, run) => sum + run.failed, 0);
  return [key, m((f) => f.handshakeP50).toFixed(2), m((f) => f.handshakeP99).toFixed(2), m((f) => f.handlerUs).toFixed(0), m((f) => f.callerUs).toFixed(0), m((f) => f.rate).toFixed(0), String(failed)].join(" | ");
});
console.log(`${MESSAGES} messages of 256 B per row and round, ${CONCURRENCY} in flight, median of ${ROUNDS} rounds; handshake: ${HANDSHAKES} fresh connections to the h2 listener (TCP connect for cleartext, TCP + TLS 1.3 for TLS)`);
console.log("mode | transport | handshake p50 ms | handshake p99 ms | handler CPU µs/msg | caller CPU µs/msg | msg/s | failed");
console.log("---|---|---|---|---|---|---|---");
for (const row of rows) console.log(row);
