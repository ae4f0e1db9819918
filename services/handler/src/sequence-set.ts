/** An inclusive range of sequence numbers. */
export interface Range {
  first: number;
  last: number;
}

/**
 * A set of positive integers kept as sorted, non-overlapping, non-adjacent ranges. A run
 * that arrives mostly in order collapses to a handful of ranges, so tracking a million
 * messages costs bytes, not megabytes.
 */
export class SequenceSet {
  readonly #firsts: number[] = [];
  readonly #lasts: number[] = [];
  #size = 0;

  /** Number of members. */
  get size(): number {
    return this.#size;
  }

  /** Adds `value`; returns false when it was already a member. */
  add(value: number): boolean {
    const firsts = this.#firsts;
    const lasts = this.#lasts;
    // Index of the first range that starts after `value`.
    let low = 0;
    let high = firsts.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (firsts[mid]! <= value) low = mid + 1;
      else high = mid;
    }
    const before = low - 1;
    if (before >= 0 && lasts[before]! >= value) return false;
    const joinsBefore = before >= 0 && lasts[before]! + 1 === value;
    const joinsAfter = low < firsts.length && firsts[low]! - 1 === value;
    if (joinsBefore && joinsAfter) {
      lasts[before] = lasts[low]!;
      firsts.splice(low, 1);
      lasts.splice(low, 1);
    } else if (joinsBefore) {
      lasts[before] = value;
    } else if (joinsAfter) {
      firsts[low] = value;
    } else {
      firsts.splice(low, 0, value);
      lasts.splice(low, 0, value);
    }
    this.#size++;
    return true;
  }

  /** The members as ranges, in ascending order. */
  ranges(): Range[] {
    return this.#firsts.map((first, index) => ({ first, last: this.#lasts[index]! }));
  }
}
