// `compare --reference` as a user runs it: the services started with their reference
// endpoints, one reference phase beside each transport's, and the pairs in every report.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestVhost, type TestVhost } from "../support/broker.ts";
import { compare } from "../support/compare.ts";

interface ReportJson {
  rows: Array<{ transport: string; implementation: string; lost: number; throughput: number; handlerCpuMsPer1k?: number; received: number; acknowledged: number }>;
  referencePairs: Array<{ library: string; reference: string; throughput: number }>;
}

describe("compare --reference", () => {
  let vhost: TestVhost;
  let out: string;
  beforeAll(async () => {
    vhost = await createTestVhost("switchyard-compare-reference");
    out = mkdtempSync(join(tmpdir(), "switchyard-compare-reference-"));
  });
  afterAll(async () => {
    rmSync(out, { recursive: true, force: true });
    await vhost?.delete();
  });

  it("measures each transport and its reference against the same handleWork, with nothing lost on any of the six", async () => {
    const { code, stdout, stderr } = await compare(["--reference", "--quick", "--payloads", "64", "--concurrency", "8", "--amqp-url", vhost.url, "--out", out], 150_000);
    expect(code, stderr).toBe(0);
    for (const transport of ["grpc_js", "http_json", "amqplib"]) {
      expect(stdout).toMatch(new RegExp(`^${transport} \\(reference\\)\\s+64 B\\s+[\\d,]+\\s.*\\s0\\s+0\\s+0\\s+[\\d.]+\\s+[\\d.]+\\s`, "m"));
    }
    expect(stdout).toMatch(/^ {2}64 B grpc ÷ grpc_js: msgs\/s \d+\.\d\d× · p50 /m);
    expect(stdout).toMatch(/^ {2}64 B connect ÷ http_json: /m);
    expect(stdout).toMatch(/^ {2}64 B amqp ÷ amqplib: /m);

    const folder = readdirSync(out).map((name) => join(out, name)).find((path) => existsSync(join(path, "report.json")));
    expect(folder).toBeDefined();
    const report = JSON.parse(readFileSync(join(folder!, "report.json"), "utf8")) as ReportJson;
    expect(report.rows.map((row) => `${row.transport}: ${row.implementation}`)).toEqual([
      "grpc: switchyard (library)",
      "grpc_js: reference",
      "connect: switchyard (library)",
      "http_json: reference",
      "amqp: switchyard (library)",
      "amqplib: reference",
    ]);
    for (const row of report.rows) {
      expect(row.lost, row.transport).toBe(0);
      expect(row.throughput, row.transport).toBeGreaterThan(0);
      // The handler's observation counts the reference transports as it counts its own.
      expect(row.received, row.transport).toBe(row.acknowledged);
      expect(row.handlerCpuMsPer1k, row.transport).toBeGreaterThan(0);
    }
    expect(report.referencePairs.map((pair) => `${pair.library}÷${pair.reference}`)).toEqual(["grpc÷grpc_js", "connect÷http_json", "amqp÷amqplib"]);
    expect(readFileSync(join(folder!, "report.md"), "utf8")).toContain("- 64 B amqp ÷ amqplib: msgs/s");
    expect(readFileSync(join(folder!, "report.html"), "utf8")).toContain("switchyard (library) against the reference");
  }, 180_000);
});
