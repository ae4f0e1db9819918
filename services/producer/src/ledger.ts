/** An inclusive range of sequence numbers, as the handler reports them. */
export interface SequenceRange {
  first: number;
  last: number;
}

/** What the handler reported having received of one producer id. */
export interface Received {
  /** False when the handler no longer tracks the producer id; the rest is then empty. */
  tracked: boolean;
  ranges: SequenceRange[];
  handled: number;
  duplicates: number;
}

/** The reconciled ledger of one phase; mirrors the Ledger message. */
export interface LedgerFigures {
  sent: number;
  acknowledged: number;
  received: number;
  lost: number;
  duplicated: number;
  tracked: boolean;
}

/**
 * The producer's half of the loss/duplicate ledger: which sequences of a phase were
 * sent and which the transport acknowledged, one byte per sequence (a million messages
 * cost a megabyte). Reconciled against the handler's {@link Received} ranges.
 */
export class SendLedger {
  #acked = new Uint8Array(1024);
  #sent = 0;
  #acknowledged = 0;

  /** Number of sends started (the highest sequence issued, as sequences start at 1). */
  get sent(): number {
    return this.#sent;
  }

  /** Number of sends the transport acknowledged. */
  get acknowledged(): number {
    return this.#acknowledged;
  }

  /** Notes that `sequence` was sent; sequences are issued in order from 1. */
  markSent(sequence: number): void {
    if (sequence > this.#sent) this.#sent = sequence;
  }

  /** Notes that the transport acknowledged `sequence`. */
  markAcknowledged(sequence: number): void {
    if (sequence >= this.#acked.length) {
      let length = Math.max(this.#acked.length, 1024);
      while (length <= sequence) length *= 2;
      const grown = new Uint8Array(length);
      grown.set(this.#acked);
      this.#acked = grown;
    }
    if (this.#acked[sequence] === 0) {
      this.#acked[sequence] = 1;
      this.#acknowledged++;
    }
  }

  /** Frees the per-sequence record once reconciled; the counts stay. */
  release(): void {
    this.#acked = new Uint8Array(0);
  }

  /** Acknowledged sequences that fall inside `ranges`. */
  acknowledgedWithin(ranges: readonly SequenceRange[]): number {
    let count = 0;
    for (const { first, last } of ranges) {
      const end = Math.min(last, this.#acked.length - 1);
      for (let sequence = Math.max(first, 1); sequence <= end; sequence++) count += this.#acked[sequence]!;
    }
    return count;
  }

  /**
   * Reconciles with what the handler received: lost counts acknowledged sequences it
   * never reported. Without a tracked answer nothing can be said about loss.
   */
  reconcile(received: Received | undefined): LedgerFigures {
    if (!received || !received.tracked) {
      return { sent: this.#sent, acknowledged: this.#acknowledged, received: 0, lost: 0, duplicated: 0, tracked: false };
    }
    return {
      sent: this.#sent,
      acknowledged: this.#acknowledged,
      received: received.handled,
      lost: this.#acknowledged - this.acknowledgedWithin(received.ranges),
      duplicated: received.duplicates,
      tracked: true,
    };
  }
}
