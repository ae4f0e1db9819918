import { LRUCache } from "lru-cache";
import { DEFAULT_MAX_BLOCKS, SequenceSet, type Range } from "./sequence-set.ts";

/** What one handler instance has handled of one producer run. */
export interface RunReceipts {
  /** Handled sequences as ascending ranges (those in the blocks the run holds). */
  ranges: Range[];
  /** Distinct sequences handled, itemised in the ranges or not. */
  handled: number;
  /** Copies handled of sequences already handled. */
  duplicates: number;
}

/** One page of a run's receipts, with what the ranges leave out. */
export interface RunReceiptsPage extends RunReceipts {
  /** Where the next page starts (pass as `after`); undefined on the last page. */
  next: number | undefined;
  /** Handled sequences left out of the ranges because the run reached its block cap. */
  overflow: number;
}

/** Limits of a {@link ReceivedLedger}. */
export interface LedgerLimits {
  /** Producer runs remembered; the least recently active is forgotten first. */
  runs: number;
  /** Blocks of sequences held per run; see {@link SequenceSet} and {@link DEFAULT_MAX_BLOCKS}. */
  maxBlocksPerRun?: number;
}

/**
 * Records which sequences of each producer run were handled, for the producer's
 * loss/duplicate ledger. Only the `runs` most recently active runs are kept, each a
 * {@link SequenceSet} of at most `maxBlocksPerRun` blocks, so memory stays bounded
 * however many runs come and go and in whatever order, with whatever gaps, their
 * sequences arrive: at most 1.13 MiB per run at the default cap, so 64 runs take at
 * most about 73 MiB (a run of a million messages takes about 140 kB).
 */
export class ReceivedLedger {
  readonly #runs: LRUCache<string, { sequences: SequenceSet; duplicates: number }>;
  readonly #maxBlocks: number;

  constructor(limits: number | LedgerLimits) {
    const { runs, maxBlocksPerRun } = typeof limits === "number" ? { runs: limits, maxBlocksPerRun: undefined } : limits;
    this.#runs = new LRUCache({ max: runs });
    this.#maxBlocks = maxBlocksPerRun ?? DEFAULT_MAX_BLOCKS;
  }

  /** Records a handled copy; a sequence seen before counts as a duplicate of its run. */
  record(producerId: string, sequence: number): void {
    let run = this.#runs.get(producerId);
    if (!run) {
      run = { sequences: new SequenceSet({ maxBlocks: this.#maxBlocks }), duplicates: 0 };
      this.#runs.set(producerId, run);
    }
    if (!run.sequences.add(sequence)) run.duplicates++;
  }

  /** Everything recorded for `producerId`, or undefined when the run is not tracked. */
  get(producerId: string): RunReceipts | undefined {
    const run = this.#runs.get(producerId);
    if (!run) return undefined;
    return { ranges: run.sequences.ranges(), handled: run.sequences.size, duplicates: run.duplicates };
  }

  /**
   * One page of what was recorded for `producerId`: up to `limit` ranges ending after
   * sequence `after`. Undefined when the run is not tracked.
   */
  page(producerId: string, after: number, limit: number): RunReceiptsPage | undefined {
    const run = this.#runs.get(producerId);
    if (!run) return undefined;
    const page = run.sequences.page(after, limit);
    return {
      ranges: page.ranges,
      next: page.next,
      handled: run.sequences.size,
      duplicates: run.duplicates,
      overflow: run.sequences.overflow,
    };
  }
}
