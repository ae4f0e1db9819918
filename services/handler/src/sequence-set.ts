/** An inclusive range of sequence numbers. */
export interface Range {
  first: number;
  last: number;
}

/** One page of a {@link SequenceSet}'s ranges. */
export interface RangePage {
  /** Ranges in ascending order, each after the page's `after` sequence. */
  ranges: Range[];
  /** Pass as `after` for the next page; undefined on the last page. */
  next: number | undefined;
}

/** What {@link SequenceSet} may hold. */
export interface SequenceSetLimits {
  /**
   * Most ranges kept. Past it, the shortest ranges are dropped and their members
   * counted in {@link SequenceSet.overflow} instead: memory stays bounded whatever
   * order, or gaps, a client sends.
   */
  maxRanges: number;
}

/**
 * Default {@link SequenceSetLimits.maxRanges}: 50,000 ranges cost about 800 kB. Several
 * replicas sharing a run each see an interleaved share of it (every third sequence, for
 * three), one range per sequence: 50,000 covers a phase of about 150,000 messages so.
 */
export const DEFAULT_MAX_RANGES = 50_000;

/** Members waiting in the buffer before they are merged, at least. */
const MIN_PENDING = 1_024;

/**
 * A set of positive integers kept as sorted, non-overlapping, non-adjacent ranges. A run
 * that arrives mostly in order collapses to a handful of ranges, so tracking a million
 * messages costs bytes, not megabytes.
 *
 * Costs: a member that extends the last range, or starts a new one after it, is O(1).
 * Any other member waits in a buffer (O(1) to add, O(log n) to check) until the buffer
 * holds a quarter as many members as there are ranges; one linear merge then takes the
 * whole buffer, so each insert costs amortised O(log n) whatever the order.
 *
 * Ranges are capped by {@link SequenceSetLimits.maxRanges}. The first time a merge
 * passes the cap, the shortest ranges are dropped; from then on the set is full: a
 * member that extends or joins ranges is kept (O(log n), plus a splice of at most
 * `maxRanges` when it joins two), and one that would start a new range is only
 * counted. Members not itemised are reported as {@link overflow}; a later copy of one
 * of them is taken for a new member.
 */
export class SequenceSet {
  #firsts: number[] = [];
  #lasts: number[] = [];
  /** Members not yet merged into the ranges; none of them is in a range. */
  #pending = new Set<number>();
  #size = 0;
  #overflow = 0;
  /** True once the cap has been reached: no new ranges, no buffer. */
  #full = false;
  readonly #maxRanges: number;

  constructor(limits: Partial<SequenceSetLimits> = {}) {
    this.#maxRanges = Math.max(1, limits.maxRanges ?? DEFAULT_MAX_RANGES);
  }

  /** Number of members added, itemised or not. */
  get size(): number {
    return this.#size;
  }

  /** Members no longer itemised in the ranges because the range cap was reached. */
  get overflow(): number {
    return this.#overflow;
  }

  /** Number of ranges. */
  get rangeCount(): number {
    this.#merge();
    return this.#firsts.length;
  }

  /** Adds `value`; returns false when it was already a member. */
  add(value: number): boolean {
    if (this.#full) return this.#addWhenFull(value);
    if (this.#pending.has(value) || this.#inRanges(value)) return false;
    this.#size++;
    const lasts = this.#lasts;
    const count = lasts.length;
    const last = count > 0 ? lasts[count - 1]! : undefined;
    if (last !== undefined && value === last + 1) {
      // In order: the common case, extending the last range.
      lasts[count - 1] = value;
    } else if (this.#pending.size === 0 && (last === undefined || value > last + 1)) {
      // After every range: a new last range, unless the cap is reached.
      if (count >= this.#maxRanges) {
        this.#full = true;
        this.#overflow++;
      } else {
        this.#firsts.push(value);
        lasts.push(value);
      }
    } else {
      this.#pending.add(value);
      if (this.#pending.size >= Math.max(MIN_PENDING, count >> 2)) this.#merge();
    }
    return true;
  }

  /** All ranges in ascending order. Prefer {@link page} for an answer of bounded size. */
  ranges(): Range[] {
    this.#merge();
    return this.#firsts.map((first, index) => ({ first, last: this.#lasts[index]! }));
  }

  /** Up to `limit` ranges ending after sequence `after`, in ascending order. */
  page(after: number, limit: number): RangePage {
    this.#merge();
    const start = this.#firstEndingAfter(after);
    const end = Math.min(this.#firsts.length, start + Math.max(1, limit));
    const ranges: Range[] = [];
    for (let index = start; index < end; index++) {
      // A range straddling `after` is cut, so pages never repeat a member.
      ranges.push({ first: Math.max(this.#firsts[index]!, after + 1), last: this.#lasts[index]! });
    }
    return { ranges, next: end < this.#firsts.length ? this.#lasts[end - 1]! : undefined };
  }

  /** {@link add} once full: extend or join ranges, never start one. */
  #addWhenFull(value: number): boolean {
    const firsts = this.#firsts;
    const lasts = this.#lasts;
    const index = this.#firstEndingAfter(value - 1);
    if (index < firsts.length && firsts[index]! <= value) return false;
    this.#size++;
    // `index` is the first range after `value`; `index - 1` the last one before it.
    const joinsBefore = index > 0 && lasts[index - 1]! + 1 === value;
    const joinsAfter = index < firsts.length && firsts[index]! - 1 === value;
    if (joinsBefore && joinsAfter) {
      lasts[index - 1] = lasts[index]!;
      firsts.splice(index, 1);
      lasts.splice(index, 1);
    } else if (joinsBefore) {
      lasts[index - 1] = value;
    } else if (joinsAfter) {
      firsts[index] = value;
    } else {
      this.#overflow++;
    }
    return true;
  }

  /** True when `value` lies in one of the ranges (not the buffer). */
  #inRanges(value: number): boolean {
    const index = this.#firstEndingAfter(value - 1);
    return index < this.#firsts.length && this.#firsts[index]! <= value;
  }

  /** Index of the first range whose last member is greater than `after`. */
  #firstEndingAfter(after: number): number {
    const lasts = this.#lasts;
    let low = 0;
    let high = lasts.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (lasts[mid]! <= after) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Merges the buffer into the ranges in one linear pass, then enforces the cap. */
  #merge(): void {
    if (this.#pending.size === 0) return;
    const values = Float64Array.from(this.#pending).sort();
    this.#pending = new Set();
    const oldFirsts = this.#firsts;
    const oldLasts = this.#lasts;
    const firsts: number[] = [];
    const lasts: number[] = [];
    const append = (first: number, last: number) => {
      const end = lasts.length - 1;
      if (end >= 0 && first <= lasts[end]! + 1) lasts[end] = Math.max(lasts[end]!, last);
      else {
        firsts.push(first);
        lasts.push(last);
      }
    };
    let range = 0;
    for (const value of values) {
      while (range < oldFirsts.length && oldFirsts[range]! < value) {
        append(oldFirsts[range]!, oldLasts[range]!);
        range++;
      }
      append(value, value);
    }
    for (; range < oldFirsts.length; range++) append(oldFirsts[range]!, oldLasts[range]!);
    this.#firsts = firsts;
    this.#lasts = lasts;
    if (firsts.length >= this.#maxRanges) {
      this.#full = true;
      if (firsts.length > this.#maxRanges) this.#dropShortest(firsts.length - this.#maxRanges);
    }
  }

  /** Drops the `excess` shortest ranges (earliest first among equals), counting their members. */
  #dropShortest(excess: number): void {
    const firsts = this.#firsts;
    const lasts = this.#lasts;
    const lengths = Float64Array.from(firsts, (first, index) => lasts[index]! - first + 1);
    const threshold = Float64Array.from(lengths).sort()[excess - 1]!;
    let dropEqual = excess - lengths.filter((length) => length < threshold).length;
    const keptFirsts: number[] = [];
    const keptLasts: number[] = [];
    for (let index = 0; index < firsts.length; index++) {
      const length = lengths[index]!;
      if (length < threshold || (length === threshold && dropEqual-- > 0)) {
        this.#overflow += length;
      } else {
        keptFirsts.push(firsts[index]!);
        keptLasts.push(lasts[index]!);
      }
    }
    this.#firsts = keptFirsts;
    this.#lasts = keptLasts;
  }
}
