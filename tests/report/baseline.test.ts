// compare --baseline: which changes count as beyond the noise, and how noise is measured.
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { PhaseState, RunSchema } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { NoiseSampler, relativeSpread, type PhaseNoise } from "../../tools/compare/src/baseline-noise.ts";
import { baselineText, compareRuns, sampling, type RunRecord } from "../../tools/compare/src/baseline.ts";
import type { Row } from "../../tools/compare/src/report.ts";

/** A row with round figures, overridden where a test cares. */
function row(transport: string, figures: Partial<Row> = {}): Row {
  return {
    transport, payloadBytes: 64, state: "done", throughput: 1000, p50Ms: 10, p90Ms: 20, p99Ms: 40, p999Ms: 60, maxMs: 70,
    errors: 0, outcomes: { ok: 5000 }, notSent: 0, scheduleLagP50Ms: undefined, scheduleLagP99Ms: undefined, lost: 0, duplicated: 0,
    producerCpuMsPer1k: 300, handlerCpuMsPer1k: 200, brokerCpuMsPer1k: undefined, bytesPerMessage: 167, handlerP50Ms: 5, handlerP99Ms: 30,
    sent: 5000, acknowledged: 5000, received: 5000, elapsedMs: 5000, notes: [], replicas: [], lossBasis: "handler ledger", ...figures,
  };
}

function record(rows: Row[], spread: number | undefined): RunRecord {
  const noise: PhaseNoise[] | undefined = spread === undefined ? undefined : rows.map((r) => ({ transport: r.transport, payloadBytes: r.payloadBytes, windows: [], relativeSpread: spread }));
  return {
    dir: "results/earlier",
    report: { command: "npm run compare", startedAt: "2026-12-02T07:00:00.000Z", target: "", machine: "", node: "", rows, run: { phases: rows.map(() => ({})) } },
    noise,
  };
}

const flaggedOf = (comparison: ReturnType<typeof compareRuns>) => comparison.phases.flatMap((phase) => phase.figures.filter((figure) => figure.flagged).map((figure) => `${phase.transport} ${figure.figure}`));

describe("compareRuns", () => {
  it("leaves changes within twice the two runs' noise unflagged", () => {
    const before = record([row("grpc")], 0.08);
    const after = record([row("grpc", { throughput: 1150, p50Ms: 9, p99Ms: 46, producerCpuMsPer1k: 270 })], 0.08);
    const comparison = compareRuns(after, before);
    expect(flaggedOf(comparison)).toEqual([]);
    expect(baselineText(comparison).at(-1)).toBe("no change beyond the noise");
  });

  it("flags what a deliberate change moved, and only that", () => {
    const before = record([row("grpc"), row("amqp")], 0.05);
    const after = record([row("grpc", { throughput: 400, p50Ms: 30, p99Ms: 100, p999Ms: 150 }), row("amqp")], 0.05);
    const comparison = compareRuns(after, before);
    expect(flaggedOf(comparison)).toEqual(["grpc msgs/s", "grpc p50", "grpc p99", "grpc p99.9"]);
    expect(baselineText(comparison).at(-1)).toMatch(/^4 changes beyond the noise: grpc 64 B msgs\/s -60%, grpc 64 B p50 \+200%/);
  });

  it("uses one run's noise when the other has none, and flags nothing when neither has", () => {
    const changed = [row("grpc", { throughput: 400 })];
    expect(flaggedOf(compareRuns(record(changed, 0.05), record([row("grpc")], undefined)))).toEqual(["grpc msgs/s"]);
    const neither = compareRuns(record(changed, undefined), record([row("grpc")], undefined));
    expect(flaggedOf(neither)).toEqual([]);
    expect(neither.phases[0]!.figures.find((figure) => figure.figure === "msgs/s")!.noise).toBeUndefined();
    expect(baselineText(neither).at(-1)).toMatch(/^noise not measured for grpc 64 B /);
  });

  it("flags any real change in bytes per message, and names phases the baseline lacks", () => {
    const comparison = compareRuns(record([row("grpc", { bytesPerMessage: 190 }), row("connect")], 0.05), record([row("grpc")], 0.05));
    expect(flaggedOf(comparison)).toEqual(["grpc bytes/msg"]);
    expect(comparison.unmatched).toEqual(["connect 64 B"]);
  });
});

describe("percentile sampling noise", () => {
  const distribution = [50, 75, 90, 99, 99.9, 99.99].map((percentile) => ({ percentile, valueMs: percentile < 99 ? percentile / 10 : percentile }));
  it("shrinks as samples grow and is wide in the sparse tail", () => {
    expect(sampling(distribution, 100_000, 50)).toBeLessThan(sampling(distribution, 1_000, 50));
    expect(sampling(distribution, 1_000, 99)).toBeGreaterThan(sampling(distribution, 1_000, 50));
    expect(sampling(distribution, 0, 99)).toBe(0);
  });
});

describe("NoiseSampler", () => {
  /** A run whose one phase has measured `elapsedMs` at `throughput`. */
  const update = (elapsedMs: number, throughput: number, state = PhaseState.MEASURING) =>
    create(RunSchema, { phases: [{ transport: "grpc", payloadBytes: 64, state, elapsed: durationFromMs(elapsedMs), throughput }] });

  it("turns the progress updates of a measuring phase into sub-window throughputs", () => {
    const sampler = new NoiseSampler();
    // 500 msg/s for 1 s, then 1,500 msg/s for 1 s, then 1,000 msg/s: cumulative figures as the producer reports them.
    sampler.observe(update(0, 0, PhaseState.WARMING_UP));
    sampler.observe(update(500, 500));
    sampler.observe(update(1000, 500));
    sampler.observe(update(1100, 500)); // too close to the last one: skipped
    sampler.observe(update(2000, 1000));
    sampler.observe(update(3000, 1000));
    sampler.observe(update(3000, 1000, PhaseState.DONE));
    const [phase] = sampler.result();
    expect(phase!.windows.map(Math.round)).toEqual([500, 1500, 1000]);
    expect(phase!.relativeSpread).toBeCloseTo(0.5, 5);
  });

  it("says nothing about a phase with fewer than three sub-windows", () => {
    expect(relativeSpread([100, 120])).toBeUndefined();
  });
});
