import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  HandlerLatencySchema,
  LatencySchema,
  LedgerSchema,
  LossBasis,
  PhaseResultSchema,
  PhaseState,
  RunSchema,
  RunState,
  type PhaseResult,
  type Run,
  type RunSpec,
} from "@switchyard/contracts";
import {
  Phase,
  resolveSpec,
  specToProto,
  type BrokerCpu,
  type BrokerObserver,
  type CompareTransport,
  type HandlerObserver,
  type LossBasis as LossBasisName,
  type PhaseFigures,
  type PhaseStateName,
  type ResolvedSpec,
  type Sender,
  type SpecContext,
} from "@switchyard/measurement";
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Logger } from "pino";

/** No run has the requested id (never existed, or forgotten to bound memory). */
export class RunNotFoundError extends Error {
  override readonly name = "RunNotFoundError";
}

/** A run is already running; runs take turns so CPU figures stay attributable. */
export class RunConflictError extends Error {
  override readonly name = "RunConflictError";
}

type RunStateName = "running" | "succeeded" | "stopped" | "failed";

/** One run: its specification, phases and life cycle. */
class RunRecord {
  readonly id: string;
  readonly spec: ResolvedSpec;
  readonly phases: Phase[];
  readonly createdAt = new Date();
  readonly controller = new AbortController();
  readonly changes = new EventEmitter();
  readonly notes: string[] = [];
  state: RunStateName = "running";
  finishedAt: Date | undefined;
  error = "";
  finished: Promise<void> = Promise.resolve();

  constructor(id: string, spec: ResolvedSpec, phases: (record: RunRecord) => Phase[]) {
    this.id = id;
    this.spec = spec;
    this.phases = phases(this);
    this.changes.setMaxListeners(0);
  }

  changed(): void {
    this.changes.emit("change");
  }
}

/** What {@link RunManager} needs. */
export interface RunManagerOptions {
  /** One instrumented sender per transport this producer can send over; a run may ask only for these. */
  senders: Partial<Record<CompareTransport, Sender>>;
  probe: HandlerObserver;
  /** The broker's own counts, for AMQP phases whose loss the handlers cannot establish. */
  broker?: BrokerObserver;
  /** The broker node's CPU, charged to AMQP phases. */
  brokerCpu?: BrokerCpu;
  /** This producer's PRODUCER_ID; phase producer ids start with it. */
  producerId: string;
  context: SpecContext;
  logger: Logger;
  /** Called with true when a run starts and false when it ends (pauses background load). */
  onActive?: (active: boolean) => void;
  /** Runs remembered for GetRun and ListRuns; the oldest finished one is forgotten first. */
  keep?: number;
}

/**
 * Starts, tracks and stops runs. One run at a time: a second StartRun while one runs is
 * refused, because overlapping runs would share the CPU being measured.
 */
export class RunManager {
  readonly #options: RunManagerOptions;
  readonly #runs = new Map<string, RunRecord>();
  #active: RunRecord | undefined;

  constructor(options: RunManagerOptions) {
    this.#options = options;
  }

  /**
   * Validates `spec` and starts the run in the background.
   *
   * @throws SpecError for a specification that cannot run.
   * @throws RunConflictError while another run is running.
   */
  start(spec: RunSpec | undefined): Run {
    const available = Object.keys(this.#options.senders) as CompareTransport[];
    const resolved = resolveSpec(spec, { ...this.#options.context, available });
    if (this.#active) {
      throw new RunConflictError(`run ${this.#active.id} is still running; stop it or wait for it to finish`);
    }
    const id = `run-${new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "")}-${randomBytes(3).toString("hex")}`;
    const record = new RunRecord(id, resolved, (run) =>
      resolved.transports.flatMap((transport) =>
        resolved.payloadBytes.map(
          (payloadBytes, index) =>
            new Phase({
              transport,
              payloadBytes,
              // Unique per phase, so the handler's ledgers of two phases never mix.
              producerId: `${this.#options.producerId}-${id.slice(4)}-${transport}-${index + 1}`,
              load: resolved.load,
              end: resolved.end,
              warmupMs: resolved.warmupMs,
              sendTimeoutMs: resolved.sendTimeoutMs,
              sender: this.#options.senders[transport]!,
              probe: this.#options.probe,
              broker: transport === "amqp" ? this.#options.broker : undefined,
              // The broker's counts are the work queue's; its CPU is the node's, whichever queue.
              brokerCpu: transport === "amqp" || transport === "amqplib" ? this.#options.brokerCpu : undefined,
              signal: run.controller.signal,
              onChange: () => run.changed(),
            }),
        ),
      ),
    );
    this.#remember(record);
    this.#active = record;
    if (this.#options.onActive) {
      record.notes.push("background load, if configured, pauses while a run is running");
      this.#options.onActive(true);
    }
    record.finished = this.#execute(record);
    return toRunProto(record, this.#options.producerId);
  }

  /** @throws RunNotFoundError */
  get(id: string): Run {
    return toRunProto(this.#find(id), this.#options.producerId);
  }

  /** Remembered runs, newest first. */
  list(): Run[] {
    return [...this.#runs.values()].reverse().map((record) => toRunProto(record, this.#options.producerId));
  }

  /**
   * Stops a run and resolves once it has ended; partial results are kept.
   *
   * @throws RunNotFoundError
   */
  async stop(id: string): Promise<Run> {
    const record = this.#find(id);
    record.controller.abort();
    await record.finished;
    return toRunProto(record, this.#options.producerId);
  }

  /**
   * Yields the run now, on every phase change and about every `intervalMs` while it
   * runs, and a last time in its final state; ends early when `signal` aborts.
   *
   * @throws RunNotFoundError
   */
  async *watch(id: string, signal: AbortSignal, intervalMs = 500): AsyncGenerator<Run> {
    const record = this.#find(id);
    while (!signal.aborted) {
      const ended = record.state !== "running";
      yield toRunProto(record, this.#options.producerId);
      if (ended) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          record.changes.off("change", done);
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, intervalMs);
        record.changes.once("change", done);
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }

  /** Stops every running run and waits for it to end (shutdown). */
  async close(): Promise<void> {
    const active = this.#active;
    if (active) {
      active.controller.abort();
      await active.finished;
    }
  }

  #find(id: string): RunRecord {
    const record = this.#runs.get(id);
    if (!record) throw new RunNotFoundError(`run ${JSON.stringify(id)} not found`);
    return record;
  }

  #remember(record: RunRecord): void {
    this.#runs.set(record.id, record);
    const keep = this.#options.keep ?? 32;
    for (const [id, old] of this.#runs) {
      if (this.#runs.size <= keep) break;
      if (old.state !== "running") this.#runs.delete(id);
    }
  }

  async #execute(record: RunRecord): Promise<void> {
    const { logger } = this.#options;
    logger.info({ runId: record.id, spec: record.spec }, "run started");
    try {
      for (const phase of record.phases) {
        if (record.controller.signal.aborted) {
          phase.skip();
          continue;
        }
        await phase.run();
        const figures = phase.figures();
        logger.info(
          { runId: record.id, transport: figures.transport, payloadBytes: figures.payloadBytes, throughput: Math.round(figures.throughput), p99Ms: figures.latency.p99Ms, lost: figures.ledger.lost },
          "phase finished",
        );
      }
      record.state = record.controller.signal.aborted ? "stopped" : "succeeded";
    } catch (error) {
      logger.error({ err: error, runId: record.id }, "run failed");
      record.state = "failed";
      record.error = error instanceof Error ? error.message : String(error);
      for (const phase of record.phases) if (phase.figures().state === "pending") phase.skip();
    } finally {
      record.finishedAt = new Date();
      this.#active = undefined;
      this.#options.onActive?.(false);
      logger.info({ runId: record.id, state: record.state }, "run ended");
      record.changed();
    }
  }
}

const RUN_STATES: Record<RunStateName, RunState> = {
  running: RunState.RUNNING,
  succeeded: RunState.SUCCEEDED,
  stopped: RunState.STOPPED,
  failed: RunState.FAILED,
};

const LOSS_BASES: Record<LossBasisName, LossBasis> = {
  handler_ledger: LossBasis.HANDLER_LEDGER,
  broker_counts: LossBasis.BROKER_COUNTS,
  unknown: LossBasis.UNKNOWN,
};

const PHASE_STATES: Record<PhaseStateName, PhaseState> = {
  pending: PhaseState.PENDING,
  warming_up: PhaseState.WARMING_UP,
  measuring: PhaseState.MEASURING,
  draining: PhaseState.DRAINING,
  reconciling: PhaseState.RECONCILING,
  done: PhaseState.DONE,
  stopped: PhaseState.STOPPED,
  skipped: PhaseState.SKIPPED,
};

function toRunProto(record: RunRecord, producerInstance: string): Run {
  return create(RunSchema, {
    id: record.id,
    spec: specToProto(record.spec),
    state: RUN_STATES[record.state],
    createdAt: timestampFromDate(record.createdAt),
    finishedAt: record.finishedAt ? timestampFromDate(record.finishedAt) : undefined,
    phases: record.phases.map((phase) => toPhaseProto(phase.figures())),
    error: record.error,
    producerInstance,
    notes: record.notes,
  });
}

/** A phase's figures as a PhaseResult message. */
export function toPhaseProto(figures: PhaseFigures): PhaseResult {
  const { latency, handlerLatency, ledger } = figures;
  return create(PhaseResultSchema, {
    transport: figures.transport,
    payloadBytes: figures.payloadBytes,
    state: PHASE_STATES[figures.state],
    producerId: figures.producerId,
    elapsed: durationFromMs(Math.round(figures.elapsedMs)),
    sent: BigInt(figures.sent),
    completed: BigInt(figures.completed),
    outcomes: Object.fromEntries(Object.entries(figures.outcomes).map(([code, count]) => [code, BigInt(count)])),
    errors: BigInt(figures.errors),
    throughput: figures.throughput,
    latency: create(LatencySchema, { ...latency, count: BigInt(latency.count) }),
    notSent: BigInt(figures.notSent),
    scheduleLag: figures.scheduleLag ? create(LatencySchema, { ...figures.scheduleLag, count: BigInt(figures.scheduleLag.count) }) : undefined,
    handlerLatency: handlerLatency ? create(HandlerLatencySchema, { ...handlerLatency, count: BigInt(handlerLatency.count) }) : undefined,
    bytesPerMessage: figures.bytesPerMessage,
    producerCpuMsPer1k: figures.producerCpuMsPer1k,
    handlerCpuMsPer1k: figures.handlerCpuMsPer1k,
    brokerCpuMsPer1k: figures.brokerCpuMsPer1k,
    ledger: create(LedgerSchema, {
      sent: BigInt(ledger.sent),
      acknowledged: BigInt(ledger.acknowledged),
      received: BigInt(ledger.received),
      lost: ledger.lost === undefined ? undefined : BigInt(ledger.lost),
      duplicated: BigInt(ledger.duplicated),
      tracked: ledger.tracked,
      lossBasis: LOSS_BASES[ledger.lossBasis],
      replicas: ledger.replicas.map((replica) => ({
        handlerId: replica.handlerId,
        incarnationId: replica.incarnationId,
        handled: BigInt(replica.handled),
      })),
    }),
    notes: figures.notes,
    startedAt: figures.startedAt ? timestampFromDate(figures.startedAt) : undefined,
  });
}
