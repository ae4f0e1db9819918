// `npm run compare -- --tls` as a user runs it: the local PKI, the broker's TLS listener,
// every transport cleartext and over TLS, side by side, with real handshakes.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestVhost, type TestVhost } from "../support/broker.ts";
import { compare } from "../support/compare.ts";

/**
 * What a cleartext AMQP client gets from `port`: `amqp` when the broker answers the
 * protocol header with a method frame (connection.start), otherwise how it refused.
 */
function cleartextAmqp(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(Buffer.from("AMQP\x00\x00\x09\x01", "latin1")));
    const done = (answer: string) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(10_000, () => done("timeout"));
    socket.once("data", (chunk: Buffer) => done(chunk[0] === 1 ? "amqp" : `answered byte 0x${chunk[0]!.toString(16)}`));
    socket.once("error", (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
    socket.once("close", () => done("closed"));
  });
}

interface ReportRow {
  transport: string;
  errors: number;
  mode: string;
  lost: number | undefined;
  throughput: number;
  handshake?: { medianMs: number; protocol?: string; alpn?: string };
  connections?: number;
}

let out: string;
let vhost: TestVhost;
beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), "switchyard-compare-tls-"));
  vhost = await createTestVhost("switchyard-compare-tls");
});
afterAll(async () => {
  await vhost?.delete();
  rmSync(out, { recursive: true, force: true });
});

describe("compare --tls", () => {
  it("runs every transport cleartext and over TLS, prints them side by side with handshake times, and loses nothing", async () => {
    const { code, stdout, stderr } = await compare(["--tls", "--quick", "--payloads", "64", "--amqp-url", vhost.url, "--out", out], 150_000);
    expect(code, stderr).toBe(0);

    const lines = stdout.split("\n");
    const header = lines.findIndex((line) => line.startsWith("transport"));
    expect(lines[header]).toMatch(/^transport\s+payload\s+mode\s+msgs\/s\s+p50 ms\s+p99 ms\s+errors\s+lost\s+CPU ms\/1k producer\s+CPU ms\/1k handler\s+CPU ms\/1k broker\s+CPU ms\/1k total\s+handshake ms\s+conns$/);
    const table = lines.slice(header + 2, header + 8);
    for (const [index, transport] of ["grpc", "connect", "amqp"].entries()) {
      // Cleartext, then TLS, next to each other; lost 0; a handshake figure > 0.
      for (const [offset, mode] of ["cleartext", "tls"].entries()) {
        const cells = table[2 * index + offset]!.trim().split(/\s{2,}/);
        expect(cells.slice(0, 3)).toEqual([transport, "64 B", mode]);
        expect(cells[7], table.join("\n")).toBe("0");
        expect(Number(cells[12])).toBeGreaterThan(0);
        expect(Number(cells[13])).toBeGreaterThanOrEqual(1);
      }
    }
    expect(stdout).toMatch(/what TLS costs:\n  grpc 64 B: throughput ×[\d.]+, CPU total [+-]\d+% .*handshake [\d.]+ ms vs [\d.]+ ms TCP only, × 1 connection\n/);

    const folder = readdirSync(out).map((name) => join(out, name)).find((path) => existsSync(join(path, "tls", "report.json")));
    expect(folder).toBeDefined();
    const report = JSON.parse(readFileSync(join(folder!, "report.json"), "utf8")) as { security: string; rows: ReportRow[] };
    expect(report.security).toBe("tls");
    const secured = report.rows.filter((row) => row.mode === "tls");
    expect(secured.map((row) => row.transport)).toEqual(["grpc", "connect", "amqp"]);
    // The handshakes were real TLS at the endpoints used: gRPC negotiated h2.
    expect(secured.map((row) => row.handshake?.protocol)).toEqual(["TLSv1.3", "TLSv1.3", "TLSv1.3"]);
    expect(secured[0]!.handshake?.alpn).toBe("h2");
    expect(report.rows.filter((row) => row.mode === "cleartext").every((row) => row.handshake?.protocol === undefined)).toBe(true);
    expect(report.rows.every((row) => row.lost === 0 && row.throughput > 0)).toBe(true);

    // The TLS run's handler served TLS only, and its producer reached it over https.
    const handlerLog = readFileSync(join(folder!, "tls", "handler.log"), "utf8");
    expect(handlerLog).toMatch(/Server listening at https:\/\/127\.0\.0\.1:\d+/);
    expect(handlerLog).not.toMatch(/Server listening at http:\/\//);
    expect(readFileSync(join(folder!, "cleartext", "handler.log"), "utf8")).not.toMatch(/Server listening at https:/);
    for (const file of ["report.md", "report.html", "cleartext/report.html", "tls/report.html"]) expect(existsSync(join(folder!, file))).toBe(true);
    expect(readFileSync(join(folder!, "report.html"), "utf8")).toContain('<tr data-transport="amqp" data-mode="tls">');

    // The broker's TLS listener stays on and speaks only TLS; its cleartext one is untouched.
    expect(await cleartextAmqp(5671)).not.toBe("amqp");
    expect(await cleartextAmqp(5672)).toBe("amqp");
  }, 180_000);

  it("runs them under mutual TLS too: client certificates to the handler and to the broker, nothing lost", async () => {
    const { code, stdout, stderr } = await compare(["--mtls", "--quick", "--payloads", "64", "--amqp-url", vhost.url, "--out", out], 150_000);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/what mutual TLS costs:\n/);
    const folder = readdirSync(out).map((name) => join(out, name)).find((path) => existsSync(join(path, "mtls", "report.json")));
    const report = JSON.parse(readFileSync(join(folder!, "report.json"), "utf8")) as { security: string; rows: ReportRow[] };
    expect(report.security).toBe("mtls");
    const secured = report.rows.filter((row) => row.mode === "mtls");
    expect(secured.map((row) => row.transport)).toEqual(["grpc", "connect", "amqp"]);
    // The handler answers an RPC without an allowed client certificate unauthenticated or
    // permission_denied, so successful sends on every transport mean the producer's was checked and admitted.
    expect(secured.every((row) => row.lost === 0 && row.throughput > 0 && row.errors === 0 && (row.handshake?.medianMs ?? 0) > 0)).toBe(true);
    expect(readFileSync(join(folder!, "mtls", "handler.log"), "utf8")).toMatch(/Server listening at https:\/\/127\.0\.0\.1:\d+/);
  }, 180_000);
});
