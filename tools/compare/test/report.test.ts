import { procCpuMs } from "@switchyard/measurement";
import { describe, expect, it } from "vitest";
import {
  cells,
  COLUMNS,
  formatBytes,
  formatMs,
  markdownTable,
  replicaShares,
  textTable,
  throughputRatios,
  totalCpuMsPer1k,
  type Row,
} from "../src/report.ts";

function row(transport: string, payloadBytes: number, throughput: number, extra: Partial<Row> = {}): Row {
  return {
    transport,
    payloadBytes,
    state: "done",
    throughput,
    p50Ms: 1.234,
    p90Ms: 2,
    p99Ms: 12.34,
    p999Ms: 123.4,
    maxMs: 200,
    errors: 0,
    outcomes: { ok: 100 },
    notSent: 0,
    scheduleLagP50Ms: undefined,
    scheduleLagP99Ms: undefined,
    lost: 0,
    duplicated: 0,
    producerCpuMsPer1k: 95.25,
    handlerCpuMsPer1k: undefined,
    brokerCpuMsPer1k: undefined,
    bytesPerMessage: 16491.6,
    handlerP50Ms: undefined,
    handlerP99Ms: undefined,
    sent: 100,
    acknowledged: 100,
    received: 100,
    elapsedMs: 1000,
    notes: [],
    replicas: [],
    lossBasis: "handler ledger",
    ...extra,
  };
}

describe("report", () => {
  it("aligns the table with every Contract column", () => {
    const table = textTable([row("grpc", 64, 1695.4), row("amqp", 16384, 12000, { lost: undefined })]).split("\n");
    expect(table[0]).toMatch(
      /^transport\s+payload\s+msgs\/s\s+p50 ms\s+p99 ms\s+p99\.9 ms\s+errors\s+lost\s+dup\s+CPU ms\/1k producer\s+CPU ms\/1k handler\s+CPU ms\/1k broker\s+CPU ms\/1k total\s+bytes\/msg$/,
    );
    expect(new Set(table.map((line) => line.length)).size).toBe(1);
    expect(table[2]).toMatch(/^grpc\s+64 B\s+1,695\s+1\.23\s+12\.3\s+123\s+0\s+0\s+0\s+95\.3\s+–\s+–\s+–\s+16,492$/);
    expect(table[3]).toMatch(/^amqp\s+16 KiB\s+12,000 .* – /);
    expect(COLUMNS).toHaveLength(14);
  });

  it("states each transport's throughput relative to the fastest per payload size", () => {
    expect(throughputRatios([row("grpc", 64, 1000), row("connect", 64, 2000), row("amqp", 64, 4000), row("grpc", 16384, 500)])).toEqual([
      "64 B: amqp 1.00 · connect 0.50 · grpc 0.25",
      "16 KiB: grpc 1.00",
    ]);
  });

  it("renders Markdown with numbers right-aligned", () => {
    const lines = markdownTable([row("grpc", 64, 10)]).split("\n");
    expect(lines[1]).toBe("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    expect(lines[2]!.startsWith("| grpc | 64 B | 10 |")).toBe(true);
  });

  it("formats sizes and latencies", () => {
    expect([formatBytes(0), formatBytes(1536), formatBytes(16384), formatBytes(1048576)]).toEqual(["0 B", "1.5 KiB", "16 KiB", "1 MiB"]);
    expect([formatMs(0), formatMs(0.1234), formatMs(12.345), formatMs(1234.5)]).toEqual(["0", "0.123", "12.3", "1,235"]);
  });

  it("shows each handler's share of a phase once more than one took part, naming restarted ones by incarnation", () => {
    expect(replicaShares([row("grpc", 64, 10, { replicas: [{ handlerId: "h-1", incarnationId: "aaaaaaaa", handled: 100 }] })])).toEqual([]);
    const replica = (handlerId: string, incarnationId: string, handled: number) => ({ handlerId, incarnationId, handled });
    expect(
      replicaShares([
        row("grpc", 64, 10, { replicas: [replica("h-1", "a1", 100)] }),
        row("amqp", 64, 10, { replicas: [replica("h-2", "b1", 50), replica("h-1", "a1", 30), replica("h-1", "c2", 20)] }),
      ]),
    ).toEqual(["grpc 64 B: h-1 100%", "amqp 64 B: h-1/a1 30% · h-1/c2 20% · h-2 50%"]);
  });

  it("charges AMQP for its broker: the total adds producer, handler and broker, and is unknown without the broker", () => {
    const grpc = row("grpc", 64, 10, { producerCpuMsPer1k: 100, handlerCpuMsPer1k: 80 });
    const amqp = row("amqp", 64, 10, { producerCpuMsPer1k: 168, handlerCpuMsPer1k: 88, brokerCpuMsPer1k: 260 });
    expect(totalCpuMsPer1k(grpc)).toBe(180);
    expect(totalCpuMsPer1k(amqp)).toBe(516);
    expect(totalCpuMsPer1k({ ...amqp, brokerCpuMsPer1k: undefined })).toBeUndefined();
    expect(cells(amqp).slice(9, 13)).toEqual(["168.0", "88.0", "260.0", "516.0"]);
  });

  it("reads a process's user and system CPU from /proc/<pid>/stat, whatever its name", () => {
    const stat = "2867 (beam.smp a) S 1 2867 2867 0 -1 4194560 96 0 0 0 1234 566 0 0 20 0 30 0 1021 0";
    expect(procCpuMs(stat)).toBe(18_000);
  });
});

