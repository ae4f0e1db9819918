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
   * Most blocks of {@link BLOCK_SEQUENCES} sequences held. A member of any other block
   * is counted in {@link SequenceSet.overflow} instead, so memory stays bounded
   * whatever order, gaps or span a client sends: at most `maxBlocks` × 512 B of bits,
   * plus about 70 B of bookkeeping per block.
   */
  maxBlocks: number;
}

/** Sequences per block, one bit each: a block's bits take 512 B. */
export const BLOCK_SEQUENCES = 4_096;

/**
 * Default {@link SequenceSetLimits.maxBlocks}: 2,048 blocks cover any 8,388,608
 * consecutive sequences (a phase of 8 million messages, in whatever order and however
 * many replicas share it) in 1 MiB of bits and about 140 kB of bookkeeping: 1.13 MiB
 * per run at most, measured with a client spraying sequences over all 53 bits. A
 * replica's share of a 1M-message phase takes 245 blocks, about 140 kB.
 */
export const DEFAULT_MAX_BLOCKS = 2_048;

const WORDS_PER_BLOCK = BLOCK_SEQUENCES / 32;

/** Index of the lowest set bit of a non-zero 32-bit word. */
function lowestBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}

/** Set bits in a 32-bit word. */
function bitCount(word: number): number {
  word -= (word >>> 1) & 0x55555555;
  word = (word & 0x33333333) + ((word >>> 2) & 0x33333333);
  return (Math.imul((word + (word >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/**
 * A set of non-negative integers (a producer run's handled sequences) kept as a bitmap
 * in blocks of {@link BLOCK_SEQUENCES}: a block exists once one of its sequences is
 * added. Every member costs one bit whatever the order it arrives in, so replicas that
 * each see an interleaved share of a run (every third sequence, for three) cost what a
 * replica seeing all of it does, and a duplicate is recognised exactly.
 *
 * Costs: {@link add} is O(1) — a map lookup (skipped for the block of the previous
 * member) and a bit test; a new block appends to a pool that doubles. {@link page} and
 * {@link ranges} compute maximal ranges from the bits, word by word: a page of `limit`
 * ranges costs O(limit × log blocks) plus the words it scans, at most all of them
 * (`maxBlocks` × 128); a sort of the block list first when blocks arrived out of order.
 *
 * Blocks are capped by {@link SequenceSetLimits.maxBlocks}. Once that many are held,
 * members of the blocks held are still kept, and a member of any other block is only
 * counted, as {@link overflow}. Nothing remembers those: a later copy of one is counted
 * again, as a new member.
 */
export class SequenceSet {
  /** Block index → slot in {@link #bits}. */
  readonly #slots = new Map<number, number>();
  /** Slot → block index. */
  readonly #blockOf: number[] = [];
  /** Slots in ascending order of block index, once {@link #sortBlocks} has run. */
  readonly #order: number[] = [];
  #sorted = true;
  /** {@link WORDS_PER_BLOCK} words per slot; grows by doubling up to the cap. */
  #bits = new Uint32Array(0);
  /** The last block looked up, so members arriving in order skip the map. */
  #lastBlock = -1;
  #lastSlot = -1;
  #size = 0;
  #overflow = 0;
  readonly #maxBlocks: number;

  constructor(limits: Partial<SequenceSetLimits> = {}) {
    this.#maxBlocks = Math.max(1, Math.floor(limits.maxBlocks ?? DEFAULT_MAX_BLOCKS));
  }

  /** Number of members added, itemised or not. */
  get size(): number {
    return this.#size;
  }

  /** Members not itemised in the ranges because the block cap was reached. */
  get overflow(): number {
    return this.#overflow;
  }

  /** Number of blocks held (at most the cap). */
  get blockCount(): number {
    return this.#slots.size;
  }

  /** Number of maximal ranges the members form; counts every word (O(blocks)). */
  get rangeCount(): number {
    this.#sortBlocks();
    const bits = this.#bits;
    let count = 0;
    let previousBlock = -2;
    let carry = 0;
    for (const slot of this.#order) {
      const block = this.#blockOf[slot]!;
      // A range continues from the previous block only when it is the adjacent one.
      if (block !== previousBlock + 1) carry = 0;
      for (let word = slot * WORDS_PER_BLOCK, end = word + WORDS_PER_BLOCK; word < end; word++) {
        const value = bits[word]!;
        // A range starts at each set bit whose lower neighbour is clear.
        count += bitCount(value & ~((value << 1) | carry));
        carry = value >>> 31;
      }
      previousBlock = block;
    }
    return count;
  }

  /**
   * Adds `value`; returns false when it was already a member.
   *
   * @throws RangeError when `value` is not a non-negative safe integer.
   */
  add(value: number): boolean {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a non-negative safe integer: ${value}`);
    const block = Math.floor(value / BLOCK_SEQUENCES);
    const slot = block === this.#lastBlock ? this.#lastSlot : this.#slotFor(block);
    if (slot < 0) {
      this.#size++;
      this.#overflow++;
      return true;
    }
    const offset = value - block * BLOCK_SEQUENCES;
    const word = slot * WORDS_PER_BLOCK + (offset >>> 5);
    const mask = 1 << (offset & 31);
    const bits = this.#bits;
    if ((bits[word]! & mask) !== 0) return false;
    bits[word] = bits[word]! | mask;
    this.#size++;
    return true;
  }

  /** All ranges in ascending order. Prefer {@link page} for an answer of bounded size. */
  ranges(): Range[] {
    return this.#collect(0, Infinity).ranges;
  }

  /** Up to `limit` (at least 1) ranges ending after sequence `after`, in ascending order. */
  page(after: number, limit: number): RangePage {
    // A range straddling `after` is cut, so pages never repeat a member.
    return this.#collect(Math.max(0, after + 1), Math.max(1, limit));
  }

  /** Up to `limit` maximal ranges of members from `from` on (the first cut at `from`). */
  #collect(from: number, limit: number): RangePage {
    this.#sortBlocks();
    const ranges: Range[] = [];
    while (ranges.length < limit) {
      const first = this.#nextMember(from);
      if (first < 0) return { ranges, next: undefined };
      const last = this.#nextNonMember(first) - 1;
      ranges.push({ first, last });
      // `last + 1` is not a member, so the next range starts at `last + 2` or later.
      from = last + 2;
    }
    return { ranges, next: this.#nextMember(from) < 0 ? undefined : ranges.at(-1)!.last };
  }

  /** The slot of `block`, made if the cap allows; -1 when it does not. */
  #slotFor(block: number): number {
    let slot = this.#slots.get(block);
    if (slot === undefined) {
      if (this.#slots.size >= this.#maxBlocks) return -1;
      slot = this.#blockOf.length;
      const lastSlot = this.#order.at(-1);
      if (lastSlot !== undefined && this.#blockOf[lastSlot]! > block) this.#sorted = false;
      this.#slots.set(block, slot);
      this.#blockOf.push(block);
      this.#order.push(slot);
      if ((slot + 1) * WORDS_PER_BLOCK > this.#bits.length) {
        const blocks = Math.min(this.#maxBlocks, Math.max(1, 2 * (this.#bits.length / WORDS_PER_BLOCK)));
        const bits = new Uint32Array(blocks * WORDS_PER_BLOCK);
        bits.set(this.#bits);
        this.#bits = bits;
      }
    }
    this.#lastBlock = block;
    this.#lastSlot = slot;
    return slot;
  }

  /** Orders {@link #order} by block index; a no-op while blocks arrived in order. */
  #sortBlocks(): void {
    if (this.#sorted) return;
    const blockOf = this.#blockOf;
    this.#order.sort((a, b) => blockOf[a]! - blockOf[b]!);
    this.#sorted = true;
  }

  /** Position in {@link #order} of the first block with index `block` or above. */
  #positionOf(block: number): number {
    const order = this.#order;
    let low = 0;
    let high = order.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#blockOf[order[mid]!]! < block) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** The smallest member at or above `from`, or -1. Blocks must be sorted. */
  #nextMember(from: number): number {
    const block = Math.floor(from / BLOCK_SEQUENCES);
    const bits = this.#bits;
    for (let position = this.#positionOf(block); position < this.#order.length; position++) {
      const slot = this.#order[position]!;
      const at = this.#blockOf[slot]!;
      const offset = at === block ? from - block * BLOCK_SEQUENCES : 0;
      const base = slot * WORDS_PER_BLOCK;
      let word = offset >>> 5;
      let value = bits[base + word]! & (-1 << (offset & 31));
      for (;;) {
        if (value !== 0) return at * BLOCK_SEQUENCES + (word << 5) + lowestBit(value);
        if (++word === WORDS_PER_BLOCK) break;
        value = bits[base + word]!;
      }
    }
    return -1;
  }

  /** The smallest non-member at or above `from`. Blocks must be sorted. */
  #nextNonMember(from: number): number {
    let block = Math.floor(from / BLOCK_SEQUENCES);
    let slot = this.#slots.get(block);
    if (slot === undefined) return from;
    let position = this.#positionOf(block);
    let offset = from - block * BLOCK_SEQUENCES;
    const bits = this.#bits;
    for (;;) {
      const base = slot * WORDS_PER_BLOCK;
      let word = offset >>> 5;
      let value = ~bits[base + word]! & (-1 << (offset & 31));
      for (;;) {
        if (value !== 0) return block * BLOCK_SEQUENCES + (word << 5) + lowestBit(value);
        if (++word === WORDS_PER_BLOCK) break;
        value = ~bits[base + word]!;
      }
      // Every member to the block's end: the range goes on only into the adjacent block.
      position++;
      const nextSlot = this.#order[position];
      if (nextSlot === undefined || this.#blockOf[nextSlot] !== block + 1) return (block + 1) * BLOCK_SEQUENCES;
      block++;
      slot = nextSlot;
      offset = 0;
    }
  }
}
