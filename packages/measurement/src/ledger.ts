/** An inclusive range of sequence numbers, as the handler reports them. */
export interface SequenceRange {
  first: number;
  last: number;
}

/** How much of one phase one handler incarnation handled. */
export interface ReplicaShare {
  handlerId: string;
  incarnationId: string;
  startedAt: Date | undefined;
  /** Distinct sequences of the phase this incarnation handled. */
  handled: number;
}

/** What the handler replicas reported having received of one producer id, put together. */
export interface Received {
  /** False when no replica tracks the producer id; the rest is then empty. */
  tracked: boolean;
  /** Union of every incarnation's ranges. */
  ranges: SequenceRange[];
  /** Distinct sequences handled by any incarnation. */
  handled: number;
  /** Copies handled again, by the same incarnation or by another one. */
  duplicates: number;
  /** Handled sequences no incarnation itemised (past its block cap); 0 when complete. */
  overflow: number;
  /** Replicas that could not be asked this time. */
  unreachable: number;
  /** Each incarnation that handled part of the producer id's messages. */
  replicas: ReplicaShare[];
  /** Every incarnation that answered while the producer id was asked about, whether it tracked it or not. */
  incarnations: Array<{ handlerId: string; incarnationId: string; startedAt: Date | undefined }>;
}

/** How a phase's loss figure was established; mirrors LossBasis. */
export type LossBasis = "handler_ledger" | "broker_counts" | "unknown";

/** The reconciled ledger of one phase; mirrors the Ledger message. */
export interface LedgerFigures {
  sent: number;
  acknowledged: number;
  received: number;
  /** Acknowledged but never handled; undefined when it cannot be established. */
  lost: number | undefined;
  duplicated: number;
  tracked: boolean;
  lossBasis: LossBasis;
  /** Why loss is unknown, in words; empty otherwise. */
  unknownBecause: string;
  replicas: ReplicaShare[];
}

/** Sorts ranges and merges the ones that overlap or touch. */
export function mergeRanges(ranges: readonly SequenceRange[]): SequenceRange[] {
  const sorted = [...ranges].sort((a, b) => a.first - b.first);
  const merged: SequenceRange[] = [];
  for (const { first, last } of sorted) {
    const previous = merged.at(-1);
    if (previous && first <= previous.last + 1) previous.last = Math.max(previous.last, last);
    else merged.push({ first, last });
  }
  return merged;
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
   * Reconciles with what the handler replicas received: lost counts acknowledged
   * sequences none of them reported. When some are missing but the answers cannot be
   * complete (a replica unreachable, a ledger past its block cap, an incarnation started
   * after `phaseStart` whose predecessor's ledger is gone), loss is unknown, not a number.
   */
  reconcile(received: Received | undefined, phaseStart?: Date): LedgerFigures {
    const base = { sent: this.#sent, acknowledged: this.#acknowledged };
    if (!received || !received.tracked) {
      return {
        ...base,
        received: 0,
        lost: undefined,
        duplicated: 0,
        tracked: false,
        lossBasis: "unknown",
        unknownBecause: received ? "no handler replica tracks this phase" : "no handler replica could be asked",
        replicas: [],
      };
    }
    const missing = this.#acknowledged - this.acknowledgedWithin(received.ranges);
    // A handler that answered as two incarnations, or as one started after the phase did,
    // restarted: what an earlier incarnation handled after it was last asked is gone.
    const incarnationsOf = new Map<string, number>();
    for (const { handlerId } of received.incarnations) incarnationsOf.set(handlerId, (incarnationsOf.get(handlerId) ?? 0) + 1);
    const restarted = received.incarnations.filter(
      (incarnation) => (incarnationsOf.get(incarnation.handlerId) ?? 0) > 1 || (phaseStart && incarnation.startedAt && incarnation.startedAt > phaseStart),
    );
    const doubts = [
      received.overflow > 0 ? `${received.overflow} handled sequences are past the handler's ledger cap and not itemised` : "",
      received.unreachable > 0 ? `${received.unreachable} handler replicas could not be asked` : "",
      restarted.length > 0
        ? `handler ${[...new Set(restarted.map((replica) => replica.handlerId))].join(", ")} restarted during the phase and what the earlier incarnation handled cannot be read back`
        : "",
    ].filter((doubt) => doubt !== "");
    const known = missing === 0 || doubts.length === 0;
    return {
      ...base,
      received: received.handled,
      lost: known ? missing : undefined,
      duplicated: received.duplicates,
      tracked: true,
      lossBasis: known ? "handler_ledger" : "unknown",
      unknownBecause: known ? "" : `${missing} acknowledged sequences are not in the handlers' ledgers, but ${doubts.join("; ")}`,
      replicas: received.replicas,
    };
  }
}
