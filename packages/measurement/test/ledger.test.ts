import { describe, expect, it } from "vitest";
import { SendLedger, type Received } from "../src/ledger.ts";
import { union } from "../src/observer/fleet.ts";

describe("SendLedger", () => {
  const ledgerOf = (sent: number, acknowledged: number[]) => {
    const ledger = new SendLedger();
    for (let sequence = 1; sequence <= sent; sequence++) ledger.markSent(sequence);
    for (const sequence of acknowledged) ledger.markAcknowledged(sequence);
    return ledger;
  };

  const answer = (fields: Partial<Received> & Pick<Received, "ranges" | "handled">): Received => ({
    tracked: true,
    duplicates: 0,
    overflow: 0,
    unreachable: 0,
    replicas: [{ handlerId: "h", incarnationId: "a", startedAt: new Date(0), handled: fields.handled }],
    incarnations: (fields.replicas ?? [{ handlerId: "h", incarnationId: "a", startedAt: new Date(0) }]).map(({ handlerId, incarnationId, startedAt }) => ({ handlerId, incarnationId, startedAt })),
    ...fields,
  });

  it("balances when the handler received every acknowledged message", () => {
    const ledger = ledgerOf(5000, Array.from({ length: 5000 }, (_, i) => i + 1));
    expect(ledger.reconcile(answer({ ranges: [{ first: 1, last: 5000 }], handled: 5000 }))).toMatchObject({
      sent: 5000,
      acknowledged: 5000,
      received: 5000,
      lost: 0,
      duplicated: 0,
      tracked: true,
      lossBasis: "handler_ledger",
    });
  });

  it("counts acknowledged messages the handler never saw as lost, and its duplicates", () => {
    const ledger = ledgerOf(10, [1, 2, 3, 4, 5, 6, 7, 8]);
    // 9 and 10 failed to send; 4-5 vanished after their ack; 10 arrived anyway (a timeout that got through).
    const figures = ledger.reconcile(answer({
      ranges: [{ first: 1, last: 3 }, { first: 6, last: 8 }, { first: 10, last: 10 }],
      handled: 7,
      duplicates: 2,
    }));
    expect(figures).toMatchObject({ sent: 10, acknowledged: 8, received: 7, lost: 2, duplicated: 2, tracked: true, lossBasis: "handler_ledger" });
  });

  it("says nothing about loss when the handler does not track the run or cannot be asked", () => {
    const ledger = ledgerOf(3, [1, 2, 3]);
    expect(ledger.reconcile(undefined)).toMatchObject({ tracked: false, lost: undefined, lossBasis: "unknown", acknowledged: 3 });
    expect(ledger.reconcile(answer({ tracked: false, ranges: [], handled: 0 }))).toMatchObject({ tracked: false, lost: undefined });
  });

  it("prints no loss it cannot establish: a ledger past its cap, a replica unreachable, a restart", () => {
    const ledger = ledgerOf(10, Array.from({ length: 10 }, (_, i) => i + 1));
    const partial = { ranges: [{ first: 1, last: 6 }], handled: 6 };
    expect(ledger.reconcile(answer(partial))).toMatchObject({ lost: 4, lossBasis: "handler_ledger" });
    const capped = ledger.reconcile(answer({ ...partial, handled: 10, overflow: 4 }));
    expect(capped).toMatchObject({ lost: undefined, lossBasis: "unknown" });
    expect(capped.unknownBecause).toContain("4 handled sequences are past the handler's ledger cap");
    expect(ledger.reconcile(answer({ ...partial, unreachable: 1 })).unknownBecause).toContain("1 handler replicas could not be asked");
    const phaseStart = new Date(1_000);
    const restarted = answer({ ...partial, replicas: [{ handlerId: "h-0", incarnationId: "b", startedAt: new Date(2_000), handled: 6 }] });
    expect(ledger.reconcile(restarted, phaseStart)).toMatchObject({ lost: undefined, lossBasis: "unknown" });
    expect(ledger.reconcile(restarted, phaseStart).unknownBecause).toContain("handler h-0 restarted during the phase");
    // Two incarnations of one handler answered, the later one not (yet) tracking the phase.
    const twice = answer({
      ...partial,
      incarnations: [
        { handlerId: "h-1", incarnationId: "c", startedAt: new Date(0) },
        { handlerId: "h-1", incarnationId: "d", startedAt: new Date(0) },
      ],
    });
    expect(ledger.reconcile(twice)).toMatchObject({ lost: undefined, lossBasis: "unknown" });
    // Nothing missing is nothing lost, whatever the doubts.
    const whole = answer({ ranges: [{ first: 1, last: 10 }], handled: 10, unreachable: 1 });
    expect(ledger.reconcile(whole, phaseStart)).toMatchObject({ lost: 0, lossBasis: "handler_ledger" });
  });

  it("puts several replicas' and incarnations' answers together", () => {
    const key = (handlerId: string, incarnationId: string) => ({ handlerId, incarnationId, startedAt: undefined, tracked: true, overflow: 0 });
    const merged = union([
      { ...key("h-0", "a"), ranges: [{ first: 1, last: 4 }], handled: 4, duplicates: 1 },
      { ...key("h-0", "b"), ranges: [{ first: 4, last: 6 }], handled: 3, duplicates: 0 },
      { ...key("h-1", "c"), ranges: [{ first: 8, last: 9 }], handled: 2, duplicates: 0 },
    ]);
    expect(merged.ranges).toEqual([{ first: 1, last: 6 }, { first: 8, last: 9 }]);
    expect(merged.handled).toBe(8);
    // One copy counted by h-0/a, and sequence 4 handled by two incarnations.
    expect(merged.duplicates).toBe(2);
    expect(merged.replicas.map((replica) => replica.handled)).toEqual([4, 3, 2]);
  });

  it("counts an acknowledgement once", () => {
    const ledger = ledgerOf(1, [1, 1]);
    expect(ledger.acknowledged).toBe(1);
  });
});

describe("LatencyRecorder", () => {
  it("never reports a percentile above the maximum", async () => {
    const { LatencyRecorder } = await import("../src/latency.ts");
    const recorder = new LatencyRecorder();
    for (let i = 0; i < 1000; i++) recorder.record(1 + (i % 97) * 0.8123);
    recorder.record(78.001);
    const summary = recorder.summary();
    expect(summary.count).toBe(1001);
    expect(summary.p50Ms).toBeLessThanOrEqual(summary.p90Ms);
    expect(summary.p99Ms).toBeLessThanOrEqual(summary.p999Ms);
    expect(summary.p999Ms).toBeLessThanOrEqual(summary.maxMs);
    expect(summary.maxMs).toBeCloseTo(1 + 96 * 0.8123, 1);
  });

  it("gives the distribution from p50 to p99.99, rising, matching the named percentiles", async () => {
    const { LatencyRecorder } = await import("../src/latency.ts");
    const recorder = new LatencyRecorder();
    // 1 … 100,000 µs: the exact p-th percentile is p × 1,000 µs.
    for (let i = 1; i <= 100_000; i++) recorder.record(i / 1000);
    const { distribution, p50Ms, p99Ms, p999Ms } = recorder.summary();
    expect(distribution.map((point) => point.percentile)).toEqual([50, 75, 80, 90, 95, 97.5, 98, 99, 99.5, 99.75, 99.8, 99.9, 99.95, 99.975, 99.98, 99.99]);
    for (const point of distribution) expect(point.valueMs).toBeCloseTo(point.percentile, 0);
    for (let i = 1; i < distribution.length; i++) expect(distribution[i]!.valueMs).toBeGreaterThanOrEqual(distribution[i - 1]!.valueMs);
    expect(distribution.find((point) => point.percentile === 50)!.valueMs).toBe(p50Ms);
    expect(distribution.find((point) => point.percentile === 99)!.valueMs).toBe(p99Ms);
    expect(distribution.find((point) => point.percentile === 99.9)!.valueMs).toBe(p999Ms);
    expect(new LatencyRecorder().summary().distribution).toEqual([]);
  });
});
