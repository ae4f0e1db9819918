import { LATENCY_BUCKETS_SECONDS } from "@switchyard/platform";
import { describe, expect, it } from "vitest";
import { bucketQuantile, handlerDelta, handlerSnapshot, parsePrometheusText } from "../src/handler-probe.ts";

function exposition(cpu: number, ok: number, buckets: number[], sum: number): string {
  const lines = [
    "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.",
    "# TYPE process_cpu_seconds_total counter",
    `process_cpu_seconds_total ${cpu}`,
    `switchyard_handler_messages_total{transport="grpc",outcome="ok"} ${ok}`,
    `switchyard_handler_messages_total{transport="grpc",outcome="duplicate"} 1`,
    `switchyard_handler_messages_total{transport="grpc",outcome="invalid"} 7`,
    `switchyard_handler_messages_total{transport="amqp",outcome="ok"} 999`,
  ];
  LATENCY_BUCKETS_SECONDS.forEach((le, i) =>
    lines.push(`switchyard_handler_delivery_latency_seconds_bucket{le="${le}",transport="grpc"} ${buckets[i] ?? buckets.at(-1)}`),
  );
  lines.push(`switchyard_handler_delivery_latency_seconds_bucket{le="+Inf",transport="grpc"} ${buckets.at(-1)}`);
  lines.push(`switchyard_handler_delivery_latency_seconds_sum{transport="grpc"} ${sum}`);
  lines.push(`switchyard_handler_delivery_latency_seconds_count{transport="grpc"} ${buckets.at(-1)}`);
  return `${lines.join("\n")}\n`;
}

describe("parsePrometheusText", () => {
  it("reads names, labels (escapes included) and values, skipping comments", () => {
    const samples = parsePrometheusText('# HELP x\nx_total{a="1",b="say \\"hi\\""} 3\ny 4.5e-3\n');
    expect(samples).toEqual([
      { name: "x_total", labels: { a: "1", b: 'say "hi"' }, value: 3 },
      { name: "y", labels: {}, value: 0.0045 },
    ]);
  });
});

describe("handler snapshots", () => {
  it("differences CPU, handled messages and one-way latency of one transport", () => {
    // Before: nothing observed. After: 100 messages, half within 1 ms, the rest within 2.5 ms.
    const before = handlerSnapshot(parsePrometheusText(exposition(10, 0, [0], 0)), "grpc");
    const cumulative = LATENCY_BUCKETS_SECONDS.map((le) => (le < 0.001 ? 0 : le < 0.0025 ? 50 : 100));
    const after = handlerSnapshot(parsePrometheusText(exposition(10.5, 99, cumulative, 0.15)), "grpc");
    expect(after.handled).toBe(100);
    const delta = handlerDelta(before, after);
    expect(delta.handled).toBe(99);
    expect(delta.cpuMs).toBeCloseTo(500);
    expect(delta.latency!.count).toBe(100);
    expect(delta.latency!.meanMs).toBeCloseTo(1.5);
    expect(delta.latency!.p50Ms).toBeCloseTo(1);
    expect(delta.latency!.p99Ms).toBeGreaterThan(1);
    expect(delta.latency!.p99Ms).toBeLessThanOrEqual(2.5);
  });

  it("reports no latency when nothing was observed", () => {
    const snapshot = handlerSnapshot(parsePrometheusText(exposition(1, 0, [0], 0)), "grpc");
    expect(handlerDelta(snapshot, snapshot).latency).toBeUndefined();
  });
});

describe("bucketQuantile", () => {
  it("interpolates inside the bucket and caps at the last finite bound", () => {
    expect(bucketQuantile(0.5, [1, 2, Infinity], [0, 10, 10])).toBeCloseTo(1.5);
    expect(bucketQuantile(0.99, [1, 2, Infinity], [0, 0, 10])).toBe(2);
    expect(bucketQuantile(0.5, [1, 2, Infinity], [0, 0, 0])).toBe(0);
  });
});
