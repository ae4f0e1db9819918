// The parts of `compare --tls` below the CLI: flags, connection counting, handshake
// timing against real listeners, and the side-by-side report.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { afterAll, describe, expect, it } from "vitest";
import { HELP, parseFlags, UsageError } from "../src/flags.ts";
import { connectionsTo } from "../src/tls/connections.ts";
import { measureHandshakes } from "../src/tls/handshake.ts";
import { ensureLocalPki } from "../src/tls/local-pki.ts";
import { pairedRows, securityCosts, securityTextTable, type SecurityRow } from "../src/tls/security-report.ts";
import { amqpsUrlOf } from "../src/tls/service-env.ts";

function usage(argv: string[]): string {
  try {
    parseFlags(argv);
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error(`accepted ${argv.join(" ")}`);
}

const listen = (server: Server) => new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));

describe("--tls and --mtls flags", () => {
  it("are documented in --help", () => {
    expect(HELP).toMatch(/^  --tls\s+Run every phase twice: cleartext, then over TLS/m);
    expect(HELP).toMatch(/^  --mtls\s+As --tls, with mutual TLS/m);
  });

  it("reads the mode", () => {
    expect(parseFlags(["--tls"]).security).toBe("tls");
    expect(parseFlags(["--mtls"]).security).toBe("mtls");
    expect(parseFlags([]).security).toBeUndefined();
  });

  it.each([
    [["--tls", "--mtls"], "use either --tls or --mtls, not both"],
    [["--tls", "--producer-url", "http://127.0.0.1:8080"], "--tls starts the services in each mode itself; it cannot be used with --producer-url"],
    [["--mtls", "--amqp-url", "amqp://guest:guest@broker.example:5672/"], "--mtls needs a local broker's cleartext --amqp-url"],
    [["--tls", "--amqp-url", "amqps://guest:guest@127.0.0.1:5671/"], "--tls needs a local broker's cleartext --amqp-url"],
    [["--tls", "--rate", "100..1000"], "--tls compares single runs; it cannot be used with a stepped --rate A..B"],
    [["--tls", "--transports", "grpc,grpc_js"], "--tls measures grpc, connect and amqp; grpc_js cannot run over TLS"],
  ])("refuses %j", (argv, message) => {
    expect(usage(argv)).toContain(message);
  });

  it("moves the broker URL to the TLS listener, keeping user and vhost", () => {
    expect(amqpsUrlOf("amqp://guest:guest@127.0.0.1:5672/switchyard-x")).toBe("amqps://guest:guest@127.0.0.1:5671/switchyard-x");
  });
});

describe("connectionsTo", () => {
  it("counts this process's established connections to a port, and no other port's", async () => {
    const accepted: Socket[] = [];
    const server = createServer((socket) => accepted.push(socket));
    const other = createServer(() => {});
    const [port, otherPort] = [await listen(server), await listen(other)];
    const open = (to: number) => new Promise<Socket>((resolve) => { const socket = connect(to, "127.0.0.1", () => resolve(socket)); });
    const clients = [await open(port), await open(port), await open(port), await open(otherPort)];
    try {
      expect(connectionsTo([process.pid], [port])).toBe(3);
      expect(connectionsTo([process.pid], [port, otherPort])).toBe(4);
      // A process that is gone holds nothing.
      expect(connectionsTo([2 ** 22 + 1], [port])).toBe(0);
    } finally {
      for (const socket of [...clients, ...accepted]) socket.destroy();
      server.close();
      other.close();
    }
  });
});

describe("measureHandshakes", () => {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-handshake-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("times full TLS handshakes with ALPN, and fails a TLS client at a cleartext port", async () => {
    const pki = await ensureLocalPki(join(dir, "pki"));
    const secure = createTlsServer({ cert: readFileSync(join(pki.server, "tls.crt")), key: readFileSync(join(pki.server, "tls.key")), ALPNProtocols: ["h2"] }, (socket) => socket.end());
    const plain = createServer((socket) => socket.end("not TLS\n"));
    const [securePort, plainPort] = [await listen(secure), await listen(plain)];
    try {
      const figures = await measureHandshakes({ host: "127.0.0.1", port: securePort, tls: { ca: readFileSync(pki.caFile), alpn: ["h2"] } }, 5);
      expect(figures).toMatchObject({ samples: 5, protocol: "TLSv1.3", alpn: "h2" });
      expect(figures.medianMs).toBeGreaterThan(0);
      const tcp = await measureHandshakes({ host: "127.0.0.1", port: plainPort }, 5);
      expect(tcp.protocol).toBeUndefined();
      await expect(measureHandshakes({ host: "127.0.0.1", port: plainPort, tls: { ca: readFileSync(pki.caFile) } }, 1)).rejects.toThrow(/TLS handshake with 127\.0\.0\.1:\d+ failed/);
    } finally {
      secure.close();
      plain.close();
    }
  });
});

describe("the side-by-side report", () => {
  const row = (transport: string, mode: SecurityRow["mode"], throughput: number, cpu: number, handshakeMs: number, connections: number): SecurityRow =>
    ({
      transport, payloadBytes: 64, mode, state: "done", throughput, p50Ms: 1, p90Ms: 1, p99Ms: 2, p999Ms: 3, maxMs: 4, errors: 0, outcomes: { ok: 10 },
      notSent: 0, scheduleLagP50Ms: undefined, scheduleLagP99Ms: undefined, lost: 0, duplicated: 0, producerCpuMsPer1k: cpu, handlerCpuMsPer1k: cpu,
      brokerCpuMsPer1k: transport === "amqp" ? cpu : undefined, bytesPerMessage: 100, handlerP50Ms: undefined, handlerP99Ms: undefined, sent: 10,
      acknowledged: 10, received: 10, elapsedMs: 1000, notes: [], replicas: [], lossBasis: "handler ledger",
      handshake: { medianMs: handshakeMs, p90Ms: handshakeMs, samples: 50, protocol: mode === "cleartext" ? undefined : "TLSv1.3", alpn: undefined },
      connections,
    }) satisfies SecurityRow;

  it("puts each transport's cleartext row next to its TLS row and says what TLS cost", () => {
    const rows = [row("grpc", "cleartext", 1000, 10, 0.05, 1), row("amqp", "cleartext", 2000, 5, 0.05, 2), row("grpc", "tls", 800, 12, 3.35, 1), row("amqp", "tls", 1000, 10, 4.5, 2)];
    expect(pairedRows(rows).map((entry) => `${entry.transport}/${entry.mode}`)).toEqual(["grpc/cleartext", "grpc/tls", "amqp/cleartext", "amqp/tls"]);
    expect(securityCosts(rows)).toEqual([
      "grpc 64 B: throughput ×0.80, CPU total +20% (20.0 → 24.0 ms/1k), handshake 3.35 ms vs 0.05 ms TCP only, × 1 connection",
      "amqp 64 B: throughput ×0.50, CPU total +100% (15.0 → 30.0 ms/1k), handshake 4.50 ms vs 0.05 ms TCP only, × 2 connections",
    ]);
    const lines = securityTextTable(rows).split("\n");
    expect(lines[2]).toMatch(/^grpc\s+64 B\s+cleartext\s+1,000\s.*\s0\.05\s+1$/);
    expect(lines[3]).toMatch(/^grpc\s+64 B\s+tls\s+800\s.*\s3\.35\s+1$/);
  });
});
