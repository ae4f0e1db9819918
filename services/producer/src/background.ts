import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { WorkSchema } from "@switchyard/contracts";
import type { LibraryTransport, Sender } from "@switchyard/measurement";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";

/** What {@link BackgroundLoad} needs. */
export interface BackgroundLoadOptions {
  /** Messages per second per transport; transports at 0 send nothing. */
  rates: Record<LibraryTransport, number>;
  payloadBytes: number;
  /** Instrumented senders, so the traffic shows in the producer's metrics. */
  senders: Record<LibraryTransport, Sender>;
  sendTimeoutMs: number;
  /** Prefix of the background producer ids. */
  producerId: string;
  logger: Logger;
}

/** Sends outstanding per transport past which background ticks skip, so a dead peer cannot pile up sends. */
const MAX_IN_FLIGHT = 1_000;
const TICK_MS = 100;

/**
 * Steady traffic on every transport with a rate, from start-up until close, so a
 * cluster's dashboards show live series without anyone starting a run. It pauses while
 * a run is running so the run's CPU figures stay its own.
 */
export class BackgroundLoad {
  readonly #options: BackgroundLoadOptions;
  readonly #payload: Uint8Array;
  readonly #producerId: string;
  readonly #inFlight = new Map<LibraryTransport, number>();
  readonly #owed = new Map<LibraryTransport, number>();
  #sequence = 0;
  #timer: NodeJS.Timeout | undefined;
  #paused = false;

  constructor(options: BackgroundLoadOptions) {
    this.#options = options;
    this.#payload = new Uint8Array(randomBytes(options.payloadBytes));
    // One producer id per process life: the handler's ledger sees one long run.
    this.#producerId = `${options.producerId}-background-${randomBytes(3).toString("hex")}`;
  }

  /** Whether any transport has a rate above 0. */
  get enabled(): boolean {
    return Object.values(this.#options.rates).some((rate) => rate > 0);
  }

  /** Starts sending; does nothing when no rate is set. */
  start(): void {
    if (!this.enabled || this.#timer) return;
    this.#options.logger.info({ rates: this.#options.rates, payloadBytes: this.#options.payloadBytes }, "background load on");
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  /** Pauses (true) or resumes (false) sending. */
  pause(paused: boolean): void {
    this.#paused = paused;
  }

  /** Stops sending; sends in flight finish by their own timeout. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    if (this.#paused) return;
    const { rates, senders, sendTimeoutMs } = this.#options;
    for (const [transport, rate] of Object.entries(rates) as Array<[LibraryTransport, number]>) {
      if (rate <= 0) continue;
      // Carry fractions over, so 5 msg/s sends one message every other tick.
      const owed = (this.#owed.get(transport) ?? 0) + (rate * TICK_MS) / 1000;
      const count = Math.floor(owed);
      this.#owed.set(transport, owed - count);
      for (let i = 0; i < count; i++) {
        const inFlight = this.#inFlight.get(transport) ?? 0;
        if (inFlight >= MAX_IN_FLIGHT) break;
        this.#inFlight.set(transport, inFlight + 1);
        const sequence = ++this.#sequence;
        const work = create(WorkSchema, {
          id: `${this.#producerId}-${sequence}`,
          producerId: this.#producerId,
          sequence: BigInt(sequence),
          sentAt: timestampNow(),
          payload: this.#payload,
        });
        void senders[transport].send(work, sendTimeoutMs).finally(() => {
          this.#inFlight.set(transport, (this.#inFlight.get(transport) ?? 1) - 1);
        });
      }
    }
  }
}
