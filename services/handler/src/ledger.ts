import { LRUCache } from "lru-cache";
import { SequenceSet, type Range } from "./sequence-set.ts";

/** What one handler instance has handled of one producer run. */
export interface RunReceipts {
  ranges: Range[];
  handled: number;
  duplicates: number;
}

/**
 * Records which sequences of each producer run were handled, for the producer's
 * loss/duplicate ledger (HandlerService.GetReceived). Only the `runs` most recently
 * active runs are kept, so memory stays bounded however many runs come and go.
 */
export class ReceivedLedger {
  readonly #runs: LRUCache<string, { sequences: SequenceSet; duplicates: number }>;

  constructor(runs: number) {
    this.#runs = new LRUCache({ max: runs });
  }

  /** Records a handled copy; a sequence seen before counts as a duplicate of its run. */
  record(producerId: string, sequence: number): void {
    let run = this.#runs.get(producerId);
    if (!run) {
      run = { sequences: new SequenceSet(), duplicates: 0 };
      this.#runs.set(producerId, run);
    }
    if (!run.sequences.add(sequence)) run.duplicates++;
  }

  /** What was recorded for `producerId`, or undefined when the run is not tracked. */
  get(producerId: string): RunReceipts | undefined {
    const run = this.#runs.get(producerId);
    if (!run) return undefined;
    return { ranges: run.sequences.ranges(), handled: run.sequences.size, duplicates: run.duplicates };
  }
}
