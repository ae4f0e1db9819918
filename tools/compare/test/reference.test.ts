import { describe, expect, it } from "vitest";
import { parseFlags, UsageError } from "../src/flags.ts";
import { renderHtml } from "../src/html/render-html.ts";
import { pairLines, referencePairs, withReferences } from "../src/reference.ts";
import { cells, type Row } from "../src/report.ts";

function row(transport: string, payloadBytes: number, throughput: number, extra: Partial<Row> = {}): Row {
  return {
    transport,
    payloadBytes,
    state: "done",
    throughput,
    p50Ms: 2,
    p90Ms: 3,
    p99Ms: 4,
    p999Ms: 5,
    maxMs: 6,
    errors: 0,
    outcomes: { ok: 100 },
    notSent: 0,
    scheduleLagP50Ms: undefined,
    scheduleLagP99Ms: undefined,
    lost: 0,
    duplicated: 0,
    producerCpuMsPer1k: 100,
    handlerCpuMsPer1k: 200,
    brokerCpuMsPer1k: transport.startsWith("amqp") ? 50 : undefined,
    bytesPerMessage: 100,
    handlerP50Ms: undefined,
    handlerP99Ms: undefined,
    sent: 100,
    acknowledged: 100,
    received: 100,
    elapsedMs: 1000,
    notes: [],
    replicas: [],
    lossBasis: "handler ledger",
    implementation: ["grpc_js", "http_json", "amqplib"].includes(transport) ? "reference" : "switchyard (library)",
    ...extra,
  };
}

describe("--reference", () => {
  it("follows each transport asked for with its reference, once", () => {
    expect(withReferences([])).toEqual(["grpc", "grpc_js", "connect", "http_json", "amqp", "amqplib"]);
    expect(withReferences(["amqp", "grpc"])).toEqual(["amqp", "amqplib", "grpc", "grpc_js"]);
    expect(withReferences(["grpc_js", "grpc"])).toEqual(["grpc_js", "grpc"]);
  });

  it("puts the reference transports into the run's specification", () => {
    expect(parseFlags(["--reference", "--transports", "connect"]).spec.transports).toEqual(["connect", "http_json"]);
    expect(parseFlags(["--reference"]).reference).toBe(true);
    expect(parseFlags([]).spec.transports).toEqual([]);
  });

  it("cannot pair with --tls: the reference endpoints are cleartext", () => {
    expect(() => parseFlags(["--reference", "--tls"])).toThrow(new UsageError("--reference cannot be used with --tls: the reference endpoints serve cleartext only"));
  });
});

describe("reference rows in the report", () => {
  const rows = [
    row("grpc", 64, 1000, { producerCpuMsPer1k: 300, handlerCpuMsPer1k: 400, p50Ms: 6 }),
    row("grpc_js", 64, 4000),
    row("amqp", 64, 500),
    row("grpc", 1024, 900),
  ];

  it("labels a reference row as such in the table", () => {
    expect(cells(rows[1]!)[0]).toBe("grpc_js (reference)");
    expect(cells(rows[0]!)[0]).toBe("grpc");
  });

  it("pairs each library row with its reference at the same payload, library ÷ reference", () => {
    const pairs = referencePairs(rows);
    expect(pairs).toHaveLength(1);
    expect(pairs[0]).toMatchObject({ payloadBytes: 64, library: "grpc", reference: "grpc_js", throughput: 0.25, p50: 3, producerCpu: 3, handlerCpu: 2 });
    expect(pairs[0]!.totalCpu).toBeCloseTo(700 / 300);
    expect(pairLines(pairs)).toEqual(["64 B grpc ÷ grpc_js: msgs/s 0.25× · p50 3.00× · p99 1.00× · CPU/msg producer 3.00× · handler 2.00× · total 2.33×"]);
  });

  it("draws the pairs in report.html, and nothing for a run without reference rows", () => {
    const report = { command: "", startedAt: "", target: "", machine: "", node: "", rows, run: {} };
    expect(renderHtml(report)).toContain('<tr data-pair="grpc">');
    expect(renderHtml(report)).toContain("grpc_js (reference)");
    expect(renderHtml({ ...report, rows: [rows[0]!, rows[2]!] })).not.toContain("against the reference");
  });
});
