/** An inclusive range of sequences, as GetReceived reports them. */
export interface SequenceRange {
  first: number;
  last: number;
}

/**
 * What one handler process (one incarnation) reported at its last answer: the sequences
 * of the scenario's run its received ledger holds, and how many messages it counted
 * handled (`outcome="ok"`) over every transport.
 */
export interface IncarnationReport {
  ranges: SequenceRange[];
  /** Copies GetReceived counted after their sequence had been handled. */
  duplicates: number;
  /** Sum of `switchyard_handler_messages_total{outcome="ok"}`, read after the ranges. */
  ok: number;
}

/** The broker's own counts for the scenario's vhost, once the work queue stopped moving. */
export interface BrokerCounts {
  /** Messages still in the work queue (ready + unacknowledged). */
  queued: number;
  /** Messages in the dead-letter queue. */
  deadLettered: number;
}

/** One row of the reliability table. */
export interface ScenarioFigures {
  scenario: string;
  /** Sends started (publishes or RPCs), retries of one sequence counted once. */
  attempted: number;
  /** Sequences the transport acknowledged: a publisher confirm, or an RPC answered OK. */
  acknowledged: number;
  /** Acknowledged sequences the handler reports handled, over all its incarnations. */
  handled: number;
  /** Acknowledged sequences whose message is in the dead-letter queue. */
  deadLettered: number;
  /** Messages still in the work queue at the end (the broker's count). */
  queued: number;
  /** Acknowledged, never handled, not in the dead-letter queue: from the handler's ledger and the DLQ's ids. */
  lost: number;
  /** acknowledged − handled − queued − dead-lettered, with queued and dead-lettered the broker's counts. */
  lostByBrokerCounts: number;
  /** Copies handled again: GetReceived's duplicates plus sequences handled by more than one incarnation. */
  duplicated: number;
  /**
   * Receipts the handler's ledger holds beyond what it counted handled: an incarnation
   * whose ledger names more sequences than its `ok` count reports work as received that
   * it never handled. Counted as lost.
   */
  unbacked: number;
  /** Seconds from the end of the fault until the system worked again; undefined when no fault ended. */
  recoverySeconds: number | undefined;
}

/**
 * The scenario's bookkeeping, kept by sequence number: what the load driver sent and had
 * acknowledged, what each handler incarnation reported, what the broker still holds.
 * `figures()` reconciles them; loss is established twice, from the handler's side
 * (ids) and from the broker's counts, and both must be 0.
 */
export class ScenarioLedger {
  readonly scenario: string;
  readonly #attempted = new Set<number>();
  readonly #acknowledged = new Set<number>();
  readonly #incarnations: IncarnationReport[] = [];
  readonly #deadLettered = new Set<number>();
  #broker: BrokerCounts | undefined;
  #faultEndedAt: number | undefined;
  #recoveredAt: number | undefined;

  constructor(scenario: string) {
    this.scenario = scenario;
  }

  /** Notes that a send of `sequence` started. */
  attempt(sequence: number): void {
    this.#attempted.add(sequence);
  }

  /** Notes that the transport acknowledged `sequence`. */
  acknowledge(sequence: number): void {
    this.#acknowledged.add(sequence);
  }

  /** Sequences acknowledged so far. */
  get acknowledgedCount(): number {
    return this.#acknowledged.size;
  }

  /** Adds the final report of one handler incarnation (call once per process). */
  addIncarnation(report: IncarnationReport): void {
    this.#incarnations.push(report);
  }

  /** Notes a sequence found in the dead-letter queue. */
  deadLetter(sequence: number): void {
    this.#deadLettered.add(sequence);
  }

  /** Records the broker's counts at the end. */
  brokerCounts(counts: BrokerCounts): void {
    this.#broker = counts;
  }

  /** Marks the end of the fault (process restarted, broker back, rules removed). */
  faultEnded(at = performance.now()): void {
    this.#faultEndedAt = at;
  }

  /** Marks the moment the system worked again after the fault. */
  recovered(at = performance.now()): void {
    this.#recoveredAt = at;
  }

  /** Reconciles everything recorded into one row. */
  figures(): ScenarioFigures {
    if (!this.#broker) throw new Error(`${this.scenario}: the broker's counts were never recorded`);
    const handledBy = new Map<number, number>();
    let duplicated = 0;
    let unbacked = 0;
    for (const incarnation of this.#incarnations) {
      let distinct = 0;
      for (const { first, last } of incarnation.ranges) {
        for (let sequence = first; sequence <= last; sequence++) {
          distinct++;
          handledBy.set(sequence, (handledBy.get(sequence) ?? 0) + 1);
        }
      }
      duplicated += incarnation.duplicates;
      unbacked += Math.max(0, distinct - incarnation.ok);
    }
    for (const count of handledBy.values()) duplicated += count - 1;
    let handled = 0;
    let deadLettered = 0;
    let lost = 0;
    for (const sequence of this.#acknowledged) {
      if (handledBy.has(sequence)) handled++;
      else if (this.#deadLettered.has(sequence)) deadLettered++;
      else lost++;
    }
    const recoverySeconds =
      this.#faultEndedAt !== undefined && this.#recoveredAt !== undefined
        ? Math.max(0, this.#recoveredAt - this.#faultEndedAt) / 1000
        : undefined;
    return {
      scenario: this.scenario,
      attempted: this.#attempted.size,
      acknowledged: this.#acknowledged.size,
      handled: handled - Math.min(handled, unbacked),
      deadLettered,
      queued: this.#broker.queued,
      lost: lost + Math.min(handled, unbacked),
      lostByBrokerCounts:
        this.#acknowledged.size - (handled - Math.min(handled, unbacked)) - this.#broker.queued - this.#broker.deadLettered,
      duplicated,
      unbacked,
      recoverySeconds,
    };
  }
}
