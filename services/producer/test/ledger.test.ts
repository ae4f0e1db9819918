import { describe, expect, it } from "vitest";
import { SendLedger } from "../src/ledger.ts";

describe("SendLedger", () => {
  const ledgerOf = (sent: number, acknowledged: number[]) => {
    const ledger = new SendLedger();
    for (let sequence = 1; sequence <= sent; sequence++) ledger.markSent(sequence);
    for (const sequence of acknowledged) ledger.markAcknowledged(sequence);
    return ledger;
  };

  it("balances when the handler received every acknowledged message", () => {
    const ledger = ledgerOf(5000, Array.from({ length: 5000 }, (_, i) => i + 1));
    expect(ledger.reconcile({ tracked: true, ranges: [{ first: 1, last: 5000 }], handled: 5000, duplicates: 0 })).toEqual({
      sent: 5000,
      acknowledged: 5000,
      received: 5000,
      lost: 0,
      duplicated: 0,
      tracked: true,
    });
  });

  it("counts acknowledged messages the handler never saw as lost, and its duplicates", () => {
    const ledger = ledgerOf(10, [1, 2, 3, 4, 5, 6, 7, 8]);
    // 9 and 10 failed to send; 4-5 vanished after their ack; 10 arrived anyway (a timeout that got through).
    const figures = ledger.reconcile({
      tracked: true,
      ranges: [{ first: 1, last: 3 }, { first: 6, last: 8 }, { first: 10, last: 10 }],
      handled: 7,
      duplicates: 2,
    });
    expect(figures).toEqual({ sent: 10, acknowledged: 8, received: 7, lost: 2, duplicated: 2, tracked: true });
  });

  it("says nothing about loss when the handler does not track the run or cannot be asked", () => {
    const ledger = ledgerOf(3, [1, 2, 3]);
    expect(ledger.reconcile(undefined)).toMatchObject({ tracked: false, lost: 0, acknowledged: 3 });
    expect(ledger.reconcile({ tracked: false, ranges: [], handled: 0, duplicates: 0 })).toMatchObject({ tracked: false, lost: 0 });
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
});
