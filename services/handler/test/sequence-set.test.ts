import { describe, expect, it } from "vitest";
import { SequenceSet } from "../src/sequence-set.ts";

describe("SequenceSet", () => {
  it("collapses in-order members into one range", () => {
    const set = new SequenceSet();
    for (let n = 1; n <= 1000; n++) expect(set.add(n)).toBe(true);
    expect(set.ranges()).toEqual([{ first: 1, last: 1000 }]);
    expect(set.size).toBe(1000);
  });

  it("merges out-of-order members and bridges gaps", () => {
    const set = new SequenceSet();
    for (const n of [5, 1, 3, 2, 9, 7]) set.add(n);
    expect(set.ranges()).toEqual([
      { first: 1, last: 3 },
      { first: 5, last: 5 },
      { first: 7, last: 7 },
      { first: 9, last: 9 },
    ]);
    set.add(4);
    set.add(8);
    expect(set.ranges()).toEqual([
      { first: 1, last: 5 },
      { first: 7, last: 9 },
    ]);
    set.add(6);
    expect(set.ranges()).toEqual([{ first: 1, last: 9 }]);
  });

  it("reports a member added twice and does not count it", () => {
    const set = new SequenceSet();
    set.add(10);
    set.add(11);
    expect(set.add(10)).toBe(false);
    expect(set.add(11)).toBe(false);
    expect(set.size).toBe(2);
  });

  it("agrees with a plain Set on a shuffled sequence", () => {
    const set = new SequenceSet();
    const reference = new Set<number>();
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 5000; i++) {
      const n = 1 + Math.floor(random() * 2000);
      expect(set.add(n)).toBe(!reference.has(n));
      reference.add(n);
    }
    const expanded = set.ranges().flatMap(({ first, last }) =>
      Array.from({ length: last - first + 1 }, (_, i) => first + i),
    );
    expect(expanded).toEqual([...reference].sort((a, b) => a - b));
    // Ranges never touch: adjacent ones would have been merged.
    const ranges = set.ranges();
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.first).toBeGreaterThan(ranges[i - 1]!.last + 1);
  });

  it("agrees with a plain Set on 200k gapped, out-of-order sequences", () => {
    // Every third sequence is missing and the rest arrive shuffled within windows of
    // 5,000, as many concurrent senders and redeliveries would produce.
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const values = Array.from({ length: 300_000 }, (_, i) => i + 1).filter((n) => n % 3 !== 0);
    for (let start = 0; start < values.length; start += 5_000) {
      for (let i = Math.min(values.length, start + 5_000) - 1; i > start; i--) {
        const j = start + Math.floor(random() * (i - start + 1));
        [values[i], values[j]] = [values[j]!, values[i]!];
      }
    }
    const set = new SequenceSet({ maxRanges: 200_000 });
    expect(values.filter((n) => set.add(n))).toHaveLength(values.length);
    for (const n of [1, 2, 299_999, 150_001]) expect(set.add(n)).toBe(false);
    expect(set.add(3)).toBe(true);
    expect(set.size).toBe(values.length + 1);
    expect(set.overflow).toBe(0);
    const ranges = set.ranges();
    expect(ranges[0]).toEqual({ first: 1, last: 5 });
    expect(ranges[1]).toEqual({ first: 7, last: 8 });
    expect(ranges.at(-1)).toEqual({ first: 299_998, last: 299_999 });
    expect(ranges).toHaveLength(99_999);
    expect(ranges.reduce((sum, { first, last }) => sum + last - first + 1, 0)).toBe(set.size);
  });

  it("keeps at most maxRanges ranges and counts the members it no longer itemises", () => {
    const inOrder = new SequenceSet({ maxRanges: 10 });
    for (let n = 1; n < 100; n += 2) inOrder.add(n);
    expect(inOrder.rangeCount).toBe(10);
    expect(inOrder.size).toBe(50);
    expect(inOrder.overflow).toBe(40);

    // Out of order the cap drops the shortest ranges: the long one survives.
    const shuffled = new SequenceSet({ maxRanges: 10 });
    for (let n = 1_000; n <= 1_100; n++) shuffled.add(n);
    const odd = Array.from({ length: 2_000 }, (_, i) => 2 * i + 1).reverse();
    for (const n of odd) shuffled.add(n);
    const ranges = shuffled.ranges();
    expect(ranges).toHaveLength(10);
    expect(ranges).toContainEqual({ first: 999, last: 1_101 });
    const itemised = ranges.reduce((sum, { first, last }) => sum + last - first + 1, 0);
    expect(itemised + shuffled.overflow).toBe(shuffled.size);
    expect(shuffled.size).toBe(101 + 2_000 - 50);
  });

  it("pages through the ranges without gaps or repeats", () => {
    const set = new SequenceSet();
    for (let n = 1; n <= 1_000; n++) if (n % 4 !== 0) set.add(n);
    const all = set.ranges();
    const paged = [];
    let after = 0;
    for (let pages = 0; pages < 100; pages++) {
      const page = set.page(after, 7);
      expect(page.ranges.length).toBeLessThanOrEqual(7);
      paged.push(...page.ranges);
      if (page.next === undefined) break;
      after = page.next;
    }
    expect(paged).toEqual(all);
    expect(set.page(998, 10)).toEqual({ ranges: [{ first: 999, last: 999 }], next: undefined });
  });
});
