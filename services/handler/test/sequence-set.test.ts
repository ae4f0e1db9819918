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
});
