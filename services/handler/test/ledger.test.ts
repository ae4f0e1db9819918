import { describe, expect, it } from "vitest";
import { ReceivedLedger } from "../src/ledger.ts";

describe("ReceivedLedger", () => {
  it("pages back a replica's interleaved share of a run in full, with its duplicates", () => {
    const ledger = new ReceivedLedger(4);
    // One replica of three: every third sequence of 300k, each its own range.
    for (let sequence = 2; sequence <= 300_000; sequence += 3) ledger.record("run-1", sequence);
    for (const sequence of [2, 5, 299_999]) ledger.record("run-1", sequence);
    const seen: number[] = [];
    let after = 0;
    let pages = 0;
    for (; pages < 100; pages++) {
      const page = ledger.page("run-1", after, 10_000)!;
      expect(page).toMatchObject({ handled: 100_000, duplicates: 3, overflow: 0 });
      for (const { first, last } of page.ranges) for (let n = first; n <= last; n++) seen.push(n);
      if (page.next === undefined) break;
      after = page.next;
    }
    expect(pages + 1).toBe(10);
    expect(seen).toEqual(Array.from({ length: 100_000 }, (_, i) => 2 + 3 * i));
  });
});
