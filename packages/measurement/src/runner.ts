import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { WorkSchema } from "@switchyard/contracts";
import { randomBytes } from "node:crypto";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { brokerBalance, type BrokerCounts, type BrokerObserver } from "./observer/broker.ts";
import type { BrokerCpu, BrokerCpuReading } from "./observer/broker-cpu.ts";
import { handlerDelta, type FleetSnapshot, type HandlerDelta, type HandlerObserver } from "./observer/fleet.ts";
import { LatencyRecorder, type LatencySummary } from "./latency.ts";
import { SendLedger, type LedgerFigures, type Received } from "./ledger.ts";
import { outcomeNotes, type Outcome, type OutcomeCounts } from "./outcomes.ts";
import type { CompareTransport, Sender, SendResult } from "./sender.ts";
import type { End, Load } from "./spec.ts";

/** Where a phase is in its life; mirrors PhaseState. */
export type PhaseStateName =
  | "pending"
  | "warming_up"
  | "measuring"
  | "draining"
  | "reconciling"
  | "done"
  | "stopped"
  | "skipped";

/** Everything a phase needs; one phase is one transport at one payload size. */
export interface PhaseOptions {
  transport: CompareTransport;
  payloadBytes: number;
  /** Work.producer_id of every message; must be unique to the phase. */
  producerId: string;
  load: Load;
  end: End;
  warmupMs: number;
  sendTimeoutMs: number;
  /** Instrumented sender for the transport. */
  sender: Sender;
  probe: HandlerObserver;
  /**
   * The broker's own counts (AMQP phases): when a handler restarts mid-phase, they
   * establish loss where the handlers' ledgers cannot.
   */
  broker?: BrokerObserver;
  /** The broker node's CPU (AMQP phases), charged to the phase as its own column. */
  brokerCpu?: BrokerCpu;
  /** Aborting it stops the phase; results so far are kept. */
  signal: AbortSignal;
  /** Called on every state change. */
  onChange?: () => void;
  /**
   * Open loop: sends in flight past which a scheduled send is skipped (counted as not
   * sent); defaults to {@link openLoopInFlightBound}.
   */
  maxInFlight?: number;
  /** Reconciling gives up when the handler's count has not moved for this long. */
  settleIdleMs?: number;
}

/** A phase's figures at one moment; mirrors PhaseResult. */
export interface PhaseFigures {
  transport: CompareTransport;
  payloadBytes: number;
  producerId: string;
  state: PhaseStateName;
  startedAt: Date | undefined;
  /** Length of the measured window; fixed once sending stops (see {@link Phase}). */
  elapsedMs: number;
  /** Measured sends started. */
  sent: number;
  /** Measured sends finished, whatever their outcome. */
  completed: number;
  /** Finished measured sends by outcome. */
  outcomes: OutcomeCounts;
  /** Finished measured sends whose outcome was not ok. */
  errors: number;
  /** Open loop: scheduled measured sends skipped because the in-flight bound was reached. */
  notSent: number;
  /** Sends that finished ok inside the measured window, per second of it. */
  throughput: number;
  latency: LatencySummary;
  /** Open loop: actual minus intended start of each measured send; undefined in a closed loop. */
  scheduleLag: LatencySummary | undefined;
  handlerLatency: HandlerDelta["latency"];
  bytesPerMessage: number;
  producerCpuMsPer1k: number | undefined;
  handlerCpuMsPer1k: number | undefined;
  /** AMQP: the broker node's CPU per 1,000 measured sends; undefined elsewhere or when unreadable. */
  brokerCpuMsPer1k: number | undefined;
  ledger: LedgerFigures;
  notes: string[];
}

/**
 * The most sends an open loop keeps in flight, whatever its rate and send timeout. Each
 * outstanding gRPC call cost the producer ~75 KiB (bench:memory at 5,000 msg/s: 928 MiB
 * at 10,000 in flight, 372 MiB at 1,000); 1,000 is still 200 ms of queueing at 5,000 msg/s,
 * far past what a transport keeping the rate on one machine needs.
 */
const OPEN_LOOP_MAX_IN_FLIGHT = 1_000;

/**
 * How many sends an open loop lets be in flight at once: rate × send timeout, the most a
 * schedule can have outstanding when every send ends by its deadline (a lower rate never
 * needs more), and at most {@link OPEN_LOOP_MAX_IN_FLIGHT}, so a transport that does not
 * keep up costs the producer a bounded number of calls' memory, not one per scheduled send.
 */
export function openLoopInFlightBound(rate: number, sendTimeoutMs: number): number {
  return Math.min(OPEN_LOOP_MAX_IN_FLIGHT, Math.max(1, Math.ceil((rate * sendTimeoutMs) / 1000)));
}

/** Longest a phase waits for the broker's sampled counts to balance. */
const BROKER_SETTLE_MS = 30_000;

/** How often a phase asks the handlers what they received while it sends. */
const RECEIVED_POLL_MS = 1_000;

/** Schedule lag above this share of the latency p50 earns a note. */
const SCHEDULE_LAG_NOTE_SHARE = 0.1;

/**
 * Runs one phase: warm-up, measured window, drain, then reconciliation with the
 * handler. Open-loop latency counts from each message's intended send time, so a
 * transport that stalls shows its queueing instead of silently lowering the rate
 * (no coordinated omission); closed-loop latency counts from the actual send.
 *
 * The measured window is fixed when sending stops: at the end of the duration, when
 * the last measured send of a message count starts, or when the phase is stopped.
 * Sends still in flight then count in latency and outcomes when they finish, but never
 * stretch the window, so one send timing out late cannot change msgs/s.
 */
export class Phase {
  readonly #options: PhaseOptions;
  #latency: LatencyRecorder | undefined = new LatencyRecorder();
  /** The latency summary, kept instead of the histogram once the phase has ended. */
  #finalLatency: LatencySummary | undefined;
  readonly #ledger = new SendLedger();
  readonly #outcomes = new Map<Outcome, number>();
  readonly #notes: string[] = [];
  #state: PhaseStateName = "pending";
  #startedAt: Date | undefined;
  #measuring = false;
  #ending = false;
  #measureStart = 0;
  /** When sending stopped; undefined while the window is open. */
  #measureEnd: number | undefined;
  #measuredSent = 0;
  #completed = 0;
  /** Ok completions inside the measured window: the throughput's numerator. */
  #okInWindow = 0;
  #notSent = 0;
  #scheduleLag: LatencyRecorder | undefined;
  #finalScheduleLag: LatencySummary | undefined;
  #bytes = 0;
  #sequence = 0;
  #inFlight = 0;
  #onIdle: (() => void) | undefined;
  #wakeLoop: (() => void) | undefined;
  #producerCpuMs: number | undefined;
  #brokerCpuMs: number | undefined;
  #handler: HandlerDelta | undefined;
  #ledgerFigures: LedgerFigures | undefined;

  constructor(options: PhaseOptions) {
    this.#options = options;
  }

  /** Marks a phase that will never run (the run ended first). */
  skip(): void {
    this.#setState("skipped");
  }

  /** Runs the phase to its end, or until the signal aborts. Never rejects on transport failures. */
  async run(): Promise<void> {
    const { warmupMs, signal, probe, transport } = this.#options;
    const payload = new Uint8Array(randomBytes(this.#options.payloadBytes));
    this.#startedAt = new Date();
    let before: FleetSnapshot | undefined;
    let cpuBefore: NodeJS.CpuUsage | undefined;
    let brokerCpuBefore: BrokerCpuReading | undefined;
    const stopPolling = this.#pollReceived();
    const brokerBefore = await this.#options.broker?.counts();
    const startMeasuring = async () => {
      before = await probe.snapshot();
      brokerCpuBefore = await this.#options.brokerCpu?.read();
      cpuBefore = process.cpuUsage();
      this.#measureStart = performance.now();
      this.#measuring = true;
      this.#setState("measuring");
    };

    // A stop fixes the window at once, not when the next send happens to finish.
    const stop = () => this.#closeWindow();
    signal.addEventListener("abort", stop, { once: true });
    if (warmupMs > 0) this.#setState("warming_up");
    else await startMeasuring();
    const load = this.#options.load.mode === "open"
      ? this.#openLoop(this.#options.load.rate, payload)
      : this.#closedLoop(this.#options.load.concurrency, payload);
    if (warmupMs > 0) {
      await sleep(warmupMs, signal);
      if (!signal.aborted) await startMeasuring();
    }
    if (this.#options.end.kind === "duration" && this.#measuring) {
      const planned = this.#measureStart + this.#options.end.ms;
      await sleep(planned - performance.now(), signal);
      // Timers may fire a little early or late; the window is the duration asked for.
      this.#closeWindow(signal.aborted ? undefined : planned);
      // An open loop at a low rate may be waiting for its next message: end it now.
      this.#wakeLoop?.();
    }
    await load;
    this.#closeWindow();
    signal.removeEventListener("abort", stop);

    this.#setState("draining");
    await this.#drain();
    if (cpuBefore) {
      const used = process.cpuUsage(cpuBefore);
      this.#producerCpuMs = (used.user + used.system) / 1000;
    }

    this.#setState("reconciling");
    await stopPolling();
    const received = await this.#reconcile(payload.byteLength);
    if (brokerBefore && this.#ledgerFigures?.lossBasis === "unknown" && received?.tracked) await this.#reconcileWithBroker(brokerBefore);
    probe.forget?.(this.#options.producerId);
    // Read once the handlers have taken every message: delivering them is the broker's work too.
    if (this.#options.brokerCpu) {
      const brokerCpuAfter = brokerCpuBefore ? await this.#options.brokerCpu.read() : undefined;
      if (brokerCpuBefore && brokerCpuAfter && brokerCpuAfter.source === brokerCpuBefore.source) {
        this.#brokerCpuMs = brokerCpuAfter.ms - brokerCpuBefore.ms;
      } else {
        this.#notes.push("broker CPU unavailable: neither the broker's local process nor its process_cpu_seconds_total could be read");
      }
    }
    const after = before ? await probe.snapshot() : undefined;
    if (before && after) {
      this.#handler = handlerDelta(before, after, transport);
      this.#notes.push(...this.#handler.notes);
    } else {
      this.#notes.push("handler observation unavailable: no handler CPU or one-way latency for this phase");
    }
    this.#explain(received);
    // A finished phase keeps its figures, not its per-message records: runs stay cheap to remember.
    this.#finalLatency = this.#latency!.summary();
    this.#latency = undefined;
    this.#finalScheduleLag = this.#scheduleLag?.summary();
    this.#scheduleLag = undefined;
    this.#ledger.release();
    this.#setState(signal.aborted ? "stopped" : "done");
  }

  /** The phase's figures so far; final once the state is done or stopped. */
  figures(): PhaseFigures {
    const { transport, payloadBytes, producerId } = this.#options;
    const outcomes: OutcomeCounts = Object.fromEntries(this.#outcomes);
    const ok = this.#outcomes.get("ok") ?? 0;
    const elapsedMs = this.#measureStart === 0 ? 0 : (this.#measureEnd ?? performance.now()) - this.#measureStart;
    const handler = this.#handler;
    return {
      transport,
      payloadBytes,
      producerId,
      state: this.#state,
      startedAt: this.#startedAt,
      elapsedMs,
      sent: this.#measuredSent,
      completed: this.#completed,
      outcomes,
      errors: this.#completed - ok,
      notSent: this.#notSent,
      throughput: elapsedMs > 0 ? this.#okInWindow / (elapsedMs / 1000) : 0,
      latency: this.#finalLatency ?? this.#latency!.summary(),
      scheduleLag: this.#finalScheduleLag ?? this.#scheduleLag?.summary(),
      handlerLatency: handler?.latency,
      // Per-message figures divide by what was actually sent; sends that never started cost nothing.
      bytesPerMessage: this.#completed > 0 ? this.#bytes / this.#completed : 0,
      producerCpuMsPer1k:
        this.#producerCpuMs !== undefined && this.#measuredSent > 0 ? (this.#producerCpuMs / this.#measuredSent) * 1000 : undefined,
      handlerCpuMsPer1k: handler && handler.handled > 0 ? (handler.cpuMs / handler.handled) * 1000 : undefined,
      brokerCpuMsPer1k:
        this.#brokerCpuMs !== undefined && this.#measuredSent > 0 ? (this.#brokerCpuMs / this.#measuredSent) * 1000 : undefined,
      ledger: this.#ledgerFigures ?? this.#ledger.reconcile(undefined),
      notes: [...this.#notes],
    };
  }

  /** Fixes the measured window's end (now, unless given) at the first call: sending has stopped. */
  #closeWindow(at?: number): void {
    this.#ending = true;
    if (this.#measuring && this.#measureEnd === undefined) this.#measureEnd = at ?? performance.now();
  }

  #setState(state: PhaseStateName): void {
    this.#state = state;
    this.#options.onChange?.();
  }

  /** True once no further message may start: stopped, window over, or count reached. */
  #done(): boolean {
    if (this.#ending) return true;
    if (this.#options.signal.aborted) {
      this.#closeWindow();
      return true;
    }
    const { end } = this.#options;
    if (this.#measuring && end.kind === "messages" && this.#measuredSent >= end.count) {
      this.#closeWindow();
      return true;
    }
    return false;
  }

  /** Starts one send; `intendedAt` (open loop) is when it should have started. */
  #issue(payload: Uint8Array, intendedAt?: number): Promise<SendResult> {
    const { producerId, sender, sendTimeoutMs } = this.#options;
    const sequence = ++this.#sequence;
    const measured = this.#measuring;
    if (measured) {
      this.#measuredSent++;
      if (intendedAt !== undefined) this.#scheduleLag?.record(performance.now() - intendedAt);
      const { end } = this.#options;
      // The last measured send of a message count has started: the window ends here.
      if (end.kind === "messages" && this.#measuredSent >= end.count) this.#closeWindow();
    }
    this.#ledger.markSent(sequence);
    const work = create(WorkSchema, {
      id: `${producerId}-${sequence}`,
      producerId,
      sequence: BigInt(sequence),
      sentAt: timestampNow(),
      payload,
    });
    const from = intendedAt ?? performance.now();
    this.#inFlight++;
    return sender.send(work, sendTimeoutMs).then((result) => {
      const now = performance.now();
      this.#inFlight--;
      const ok = result.outcome === "ok";
      if (ok) this.#ledger.markAcknowledged(sequence);
      if (measured) {
        this.#completed++;
        this.#bytes += result.bytes;
        this.#outcomes.set(result.outcome, (this.#outcomes.get(result.outcome) ?? 0) + 1);
        // Failures are counted by code, not timed: a refused connection is fast, not good.
        if (ok) this.#latency?.record(now - from);
      }
      if (ok && this.#measuring && this.#measureEnd === undefined) this.#okInWindow++;
      if (this.#inFlight === 0) this.#onIdle?.();
      return result;
    });
  }

  /** Each of `concurrency` workers sends its next message as soon as its last one finished. */
  async #closedLoop(concurrency: number, payload: Uint8Array): Promise<void> {
    const worker = async () => {
      for (let sent = 1; !this.#done(); sent++) {
        const result = await this.#issue(payload);
        // A send that fails at once would otherwise spin without ever letting timers run.
        if (result.outcome !== "ok" || sent % 32 === 0) await yieldToEventLoop();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  /**
   * Sends on a fixed schedule: message i is due at start + i/rate, whether or not earlier
   * ones have finished. A send due while `maxInFlight` are outstanding is skipped, not
   * queued: it is counted as not sent and the schedule moves on, so a transport that
   * cannot keep up shows as skipped sends instead of the producer holding ever more calls.
   */
  #openLoop(rate: number, payload: Uint8Array): Promise<void> {
    this.#scheduleLag = new LatencyRecorder();
    const interval = 1000 / rate;
    const maxInFlight = this.#options.maxInFlight ?? openLoopInFlightBound(rate, this.#options.sendTimeoutMs);
    const start = performance.now();
    let scheduled = 0;
    let skipped = 0;
    let finished = false;
    return new Promise<void>((resolve) => {
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.#wakeLoop = undefined;
        this.#options.signal.removeEventListener("abort", tick);
        if (skipped > 0) {
          this.#notes.push(
            `${skipped} sends skipped: ${maxInFlight} in flight, the bound; the transport could not keep up with ${rate} msg/s (counted as not sent)`,
          );
        }
        resolve();
      };
      let timer: NodeJS.Timeout | undefined;
      const tick = () => {
        if (finished) return;
        clearTimeout(timer);
        timer = undefined;
        const now = performance.now();
        while (!this.#done()) {
          const intended = start + scheduled * interval;
          if (intended > now) {
            timer = setTimeout(tick, intended - now);
            return;
          }
          scheduled++;
          if (this.#inFlight >= maxInFlight) {
            // Counted apart: a send that never started has no outcome, bytes, CPU or lag.
            if (this.#measuring) {
              skipped++;
              this.#notSent++;
            }
            continue;
          }
          void this.#issue(payload, intended);
        }
        finish();
      };
      this.#options.signal.addEventListener("abort", tick, { once: true });
      this.#wakeLoop = tick;
      tick();
    });
  }

  /** Waits for sends in flight; each ends by its own timeout, with a margin in case one does not. */
  async #drain(): Promise<void> {
    if (this.#inFlight === 0) return;
    const limitMs = this.#options.sendTimeoutMs + 5_000;
    const idle = new Promise<boolean>((resolve) => (this.#onIdle = () => resolve(true)));
    const late = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), limitMs).unref());
    if (!(await Promise.race([idle, late]))) {
      this.#notes.push(`${this.#inFlight} sends were still in flight ${limitMs} ms after the phase ended`);
    }
    this.#onIdle = undefined;
  }

  /**
   * Asks the handlers what they received about once a second while the phase sends, so
   * an incarnation that dies mid-phase has reported what it handled before it went.
   * Returns a function that stops the polling and waits for the last poll.
   */
  #pollReceived(): () => Promise<void> {
    const { probe, producerId } = this.#options;
    const stopped = new AbortController();
    const polling = (async () => {
      while (!stopped.signal.aborted) {
        await sleep(RECEIVED_POLL_MS, stopped.signal);
        if (!stopped.signal.aborted) await probe.received(producerId);
      }
    })();
    return async () => {
      stopped.abort();
      await polling;
    };
  }

  /**
   * Asks the handler what it received until every acknowledged message is accounted
   * for, the handler stops making progress, or time runs out. A stopped phase asks once.
   */
  async #reconcile(payloadBytes: number): Promise<Received | undefined> {
    const { probe, producerId, signal } = this.#options;
    const idleMs = this.#options.settleIdleMs ?? 2_000;
    const measuredMs = (this.#measureEnd ?? performance.now()) - this.#measureStart;
    const deadline = performance.now() + Math.min(60_000, Math.max(10_000, 2 * measuredMs));
    let lastHandled = -1;
    let lastProgress = performance.now();
    for (;;) {
      const received = await probe.received(producerId);
      this.#ledgerFigures = this.#ledger.reconcile(received, this.#startedAt);
      if (!received || signal.aborted || this.#ledgerFigures.lost === 0) return received;
      const now = performance.now();
      if (received.handled !== lastHandled) {
        lastHandled = received.handled;
        lastProgress = now;
      } else if (now - lastProgress > idleMs) {
        return received;
      }
      if (now > deadline) {
        this.#notes.push(`the handler was still catching up when reconciliation gave up (payload ${payloadBytes} B)`);
        return received;
      }
      await sleep(100, signal);
    }
  }

  /**
   * Establishes loss from the broker's counts when the handlers' ledgers cannot (a
   * handler restarted, or could not be asked): everything published into the work
   * queue since the phase started must have been acknowledged by a consumer (the handler
   * acknowledges only after handling), dead-lettered, or still be queued. The counts
   * are sampled by the broker, so this waits, bounded, for them to balance.
   */
  async #reconcileWithBroker(before: BrokerCounts): Promise<void> {
    const { broker, signal } = this.#options;
    const ledger = this.#ledgerFigures!;
    const deadline = performance.now() + BROKER_SETTLE_MS;
    let balance = undefined;
    while (!signal.aborted && performance.now() < deadline) {
      const after = await broker!.counts();
      if (after) {
        balance = brokerBalance(before, after);
        if (balance.published >= ledger.acknowledged && after.depth <= before.depth && balance.unaccounted === 0) {
          this.#ledgerFigures = { ...ledger, lost: 0, lossBasis: "broker_counts", unknownBecause: "" };
          this.#notes.push(
            `loss established from the broker's counts, as the handlers' ledgers could not (${ledger.unknownBecause}): ` +
              `${balance.published} messages went into the queue during the phase and every one was acknowledged by a consumer after handling or dead-lettered; ` +
              `the broker redelivered ${balance.redelivered}, and copies handled twice are counted as duplicates where a ledger saw them`,
          );
          return;
        }
      }
      await sleep(500, signal);
    }
    if (balance) {
      this.#notes.push(
        `the broker's counts did not balance within ${BROKER_SETTLE_MS / 1000} s either (published ${balance.published}, acknowledged or dead-lettered ${balance.settled}, unaccounted ${balance.unaccounted}): loss stays unknown`,
      );
    }
  }

  /** Adds plain-language notes for what the figures cannot say by themselves. */
  #explain(received: Received | undefined): void {
    const { transport } = this.#options;
    this.#notes.push(...outcomeNotes(transport, Object.fromEntries(this.#outcomes)));
    const lag = this.#scheduleLag?.summary();
    const latencyP50 = this.#latency?.summary().p50Ms ?? 0;
    if (lag && lag.count > 0 && latencyP50 > 0 && lag.p50Ms > SCHEDULE_LAG_NOTE_SHARE * latencyP50) {
      this.#notes.push(
        `the open loop started sends late: schedule lag p50 ${lag.p50Ms.toFixed(3)} ms is over ${SCHEDULE_LAG_NOTE_SHARE * 100}% of the latency p50 (${latencyP50.toFixed(3)} ms), and latency counts from the intended time, so it includes this lag`,
      );
    }
    const ledger = this.#ledgerFigures;
    if (received === undefined) {
      this.#notes.push("handler unreachable for ObservationService.GetReceived: ledger not reconciled");
    } else if (!received.tracked && this.#ledger.acknowledged > 0) {
      this.#notes.push("no handler replica tracks this phase (restarted, evicted it, or never received any of it): loss unknown");
    } else if (ledger?.lossBasis === "unknown" && ledger.unknownBecause !== "") {
      this.#notes.push(`loss unknown: ${ledger.unknownBecause}`);
    }
    const lost = ledger?.lost ?? 0;
    if (lost > 0) this.#notes.push(`${lost} acknowledged messages never reached the handler`);
    if (this.#options.signal.aborted) this.#notes.push("stopped before the end; figures cover what was sent until then");
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
