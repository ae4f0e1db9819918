import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BLOCK_SEQUENCES, DEFAULT_MAX_BLOCKS, SequenceSet, type Range } from "../src/sequence-set.ts";

/** A deterministic pseudo-random source in [0, 1), so every run sees the same input. */
function seeded(seed: number): () => number {
  // mulberry32: 32-bit integer arithmetic throughout, so the stream is exact and long.
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), state | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Every page of `set`, `limit` ranges at a time, checking each page's bound on the way. */
function allPages(set: SequenceSet, limit: number, maxPages = 1_000_000): Range[] {
  const ranges: Range[] = [];
  let after = 0;
  for (let pages = 0; pages < maxPages; pages++) {
    const page = set.page(after, limit);
    expect(page.ranges.length).toBeLessThanOrEqual(Math.max(1, limit));
    ranges.push(...page.ranges);
    if (page.next === undefined) return ranges;
    // Only the last page may be short, and `next` is where this page ended.
    expect(page.ranges).toHaveLength(Math.max(1, limit));
    expect(page.next).toBe(page.ranges.at(-1)!.last);
    after = page.next;
  }
  throw new Error(`more than ${maxPages} pages`);
}

/** The maximal ranges of a set of positive integers, computed the obvious way. */
function rangesOf(values: Iterable<number>): Range[] {
  const ranges: Range[] = [];
  for (const value of [...new Set(values)].sort((a, b) => a - b)) {
    const last = ranges.at(-1);
    if (last && last.last + 1 === value) last.last = value;
    else ranges.push({ first: value, last: value });
  }
  return ranges;
}

/** Members itemised in `ranges`. */
function countOf(ranges: readonly Range[]): number {
  return ranges.reduce((sum, { first, last }) => sum + last - first + 1, 0);
}

describe("SequenceSet", () => {
  it("collapses in-order members into one range", () => {
    const set = new SequenceSet();
    for (let n = 1; n <= 10_000; n++) expect(set.add(n)).toBe(true);
    expect(set.ranges()).toEqual([{ first: 1, last: 10_000 }]);
    expect(set.size).toBe(10_000);
    expect(set.rangeCount).toBe(1);
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

  it("joins ranges across block boundaries and ends them at missing blocks", () => {
    const set = new SequenceSet();
    // One range over three whole blocks and the edges of two more, then one past a missing block.
    for (let n = BLOCK_SEQUENCES - 3; n <= 4 * BLOCK_SEQUENCES + 2; n++) set.add(n);
    set.add(6 * BLOCK_SEQUENCES);
    expect(set.ranges()).toEqual([
      { first: BLOCK_SEQUENCES - 3, last: 4 * BLOCK_SEQUENCES + 2 },
      { first: 6 * BLOCK_SEQUENCES, last: 6 * BLOCK_SEQUENCES },
    ]);
    expect(set.page(2 * BLOCK_SEQUENCES, 1)).toEqual({
      ranges: [{ first: 2 * BLOCK_SEQUENCES + 1, last: 4 * BLOCK_SEQUENCES + 2 }],
      next: 4 * BLOCK_SEQUENCES + 2,
    });
  });

  it("reports a member added twice and does not count it", () => {
    const set = new SequenceSet();
    set.add(10);
    set.add(11);
    expect(set.add(10)).toBe(false);
    expect(set.add(11)).toBe(false);
    expect(set.size).toBe(2);
  });

  it("detects every duplicate exactly, wherever in the block it falls", () => {
    const domain = fc.oneof(
      fc.integer({ min: 1, max: 3 * BLOCK_SEQUENCES }),
      fc.nat({ max: BLOCK_SEQUENCES }).map((below) => Number.MAX_SAFE_INTEGER - below),
    );
    fc.assert(
      fc.property(fc.array(domain, { maxLength: 2_000 }), (values) => {
        const set = new SequenceSet();
        const reference = new Set<number>();
        for (const value of values) {
          expect(set.add(value)).toBe(!reference.has(value));
          reference.add(value);
        }
        expect(set.size).toBe(reference.size);
        expect(set.overflow).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it("pages back exactly what was added, on random input and random page sizes", () => {
    // Members clustered near a few bases, so ranges of every length and block edges occur.
    const base = fc.constantFrom(1, BLOCK_SEQUENCES - 40, 10 * BLOCK_SEQUENCES, 2 ** 40, Number.MAX_SAFE_INTEGER - 300);
    const member = fc.tuple(base, fc.integer({ min: 0, max: 300 })).map(([at, offset]) => Math.min(at + offset, Number.MAX_SAFE_INTEGER));
    fc.assert(
      fc.property(fc.array(member, { maxLength: 1_500 }), fc.integer({ min: 0, max: 40 }), (values, limit) => {
        const set = new SequenceSet();
        for (const value of values) set.add(value);
        const expected = rangesOf(values);
        expect(allPages(set, limit)).toEqual(expected);
        expect(set.ranges()).toEqual(expected);
        expect(set.rangeCount).toBe(expected.length);
      }),
      { numRuns: 300 },
    );
  });

  it("agrees with a plain Set on 200k gapped, out-of-order sequences", () => {
    // Every third sequence is missing and the rest arrive shuffled within windows of
    // 5,000, as many concurrent senders and redeliveries would produce.
    const random = seeded(7);
    const values = Array.from({ length: 300_000 }, (_, i) => i + 1).filter((n) => n % 3 !== 0);
    for (let start = 0; start < values.length; start += 5_000) {
      for (let i = Math.min(values.length, start + 5_000) - 1; i > start; i--) {
        const j = start + Math.floor(random() * (i - start + 1));
        [values[i], values[j]] = [values[j]!, values[i]!];
      }
    }
    const set = new SequenceSet();
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
    expect(countOf(ranges)).toBe(set.size);
  });

  it("holds three replicas' interleaved shares of a 1M-message phase without overflow", () => {
    // Replicas sharing a run each see every third sequence: each is its own range, which
    // must cost bits rather than a range apiece.
    const replicas = [0, 1, 2].map(() => new SequenceSet());
    for (let sequence = 1; sequence <= 1_000_000; sequence++) replicas[sequence % 3]!.add(sequence);
    const union = new Uint8Array(1_000_001);
    for (const replica of replicas) {
      expect(replica.overflow).toBe(0);
      expect(replica.rangeCount).toBe(replica.size);
      const ranges = allPages(replica, 10_000, 64);
      expect(countOf(ranges)).toBe(replica.size);
      for (const { first, last } of ranges) for (let n = first; n <= last; n++) union[n]!++;
    }
    expect(union.subarray(1).every((copies) => copies === 1)).toBe(true);
  });

  it("reports no overflow for an interleaved 1-of-3 share of 300k sequences", () => {
    const set = new SequenceSet();
    for (let n = 3; n <= 300_000; n += 3) set.add(n);
    expect(set.overflow).toBe(0);
    expect(set.size).toBe(100_000);
    expect(set.rangeCount).toBe(100_000);
  });

  it("caps a run spraying sequences over the whole 53-bit span, counting what it leaves out", () => {
    const random = seeded(53);
    const set = new SequenceSet();
    const sprayed = 100_000;
    for (let i = 0; i < sprayed; i++) set.add(Math.floor(random() * 2 ** 31) * 2 ** 22 + Math.floor(random() * 2 ** 22));
    expect(set.blockCount).toBe(DEFAULT_MAX_BLOCKS);
    expect(set.size).toBe(sprayed);
    expect(set.overflow).toBeGreaterThanOrEqual(sprayed - DEFAULT_MAX_BLOCKS);
    const ranges = allPages(set, 10_000);
    expect(countOf(ranges) + set.overflow).toBe(set.size);
  });

  it("keeps members of blocks it holds once full, and counts members of any other block as overflow", () => {
    const set = new SequenceSet({ maxBlocks: 2 });
    set.add(1);
    set.add(5 * BLOCK_SEQUENCES);
    expect(set.add(9 * BLOCK_SEQUENCES)).toBe(true);
    expect(set.overflow).toBe(1);
    // The two blocks held still take members, and still know their duplicates.
    for (let n = 2; n <= 100; n++) set.add(n);
    expect(set.add(50)).toBe(false);
    expect(set.add(5 * BLOCK_SEQUENCES + 1)).toBe(true);
    expect(set.blockCount).toBe(2);
    expect(set.overflow).toBe(1);
    expect(set.size).toBe(100 + 2 + 1);
    expect(set.ranges()).toEqual([
      { first: 1, last: 100 },
      { first: 5 * BLOCK_SEQUENCES, last: 5 * BLOCK_SEQUENCES + 1 },
    ]);
  });

  it("pages through the ranges without gaps or repeats, cutting a range that straddles `after`", () => {
    const set = new SequenceSet();
    for (let n = 1; n <= 1_000; n++) if (n % 4 !== 0) set.add(n);
    expect(allPages(set, 7)).toEqual(set.ranges());
    expect(set.page(998, 10)).toEqual({ ranges: [{ first: 999, last: 999 }], next: undefined });
    expect(set.page(1_000, 10)).toEqual({ ranges: [], next: undefined });
    expect(set.page(Number.MAX_SAFE_INTEGER, 10)).toEqual({ ranges: [], next: undefined });
  });

  it("rejects what is not a non-negative safe integer", () => {
    const set = new SequenceSet();
    for (const value of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, Number.NaN]) expect(() => set.add(value)).toThrow(RangeError);
    expect(set.size).toBe(0);
  });
});
