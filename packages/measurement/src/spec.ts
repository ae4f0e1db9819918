import { create } from "@bufbuild/protobuf";
import { durationFromMs, type Duration } from "@bufbuild/protobuf/wkt";
import { RunSpecSchema, type RunSpec } from "@switchyard/contracts";
import { TRANSPORTS } from "@switchyard/platform";
import { COMPARE_TRANSPORTS, type CompareTransport } from "./sender.ts";

/** The load a phase puts on its transport. */
export type Load = { mode: "open"; rate: number } | { mode: "closed"; concurrency: number };

/** When a phase's measured window ends. */
export type End = { kind: "duration"; ms: number } | { kind: "messages"; count: number };

/** A validated run specification with every default filled in. */
export interface ResolvedSpec {
  transports: CompareTransport[];
  payloadBytes: number[];
  load: Load;
  end: End;
  warmupMs: number;
  sendTimeoutMs: number;
}

/** Defaults of a run; the comparison's "small" payload is the first size. */
export const SPEC_DEFAULTS = {
  transports: [...TRANSPORTS] as CompareTransport[],
  payloadBytes: [64],
  concurrency: 32,
  durationMs: 5_000,
  warmupMs: 1_000,
} as const;

/** Upper bounds that keep one request from asking for an unbounded run. */
export const SPEC_LIMITS = {
  rate: 1_000_000,
  concurrency: 10_000,
  messages: 100_000_000,
  durationMs: 3_600_000,
  warmupMs: 600_000,
  sendTimeoutMs: 600_000,
  payloadSizes: 16,
} as const;

/**
 * A run specification that cannot run. `field` is the RunSpec field in proto form
 * (`rate`, `payload_bytes`, …) so the API and the CLI can each name it their own way.
 */
export class SpecError extends Error {
  override readonly name = "SpecError";
  readonly field: string;
  /** The message without the field name, e.g. `must be greater than 0 (got 0)`. */
  readonly problem: string;

  constructor(field: string, problem: string) {
    super(`${field} ${problem}`);
    this.field = field;
    this.problem = problem;
  }
}

/** What validation needs to know about the producer. */
export interface SpecContext {
  /** The handler's payload limit (HANDLER_MAX_PAYLOAD_BYTES). */
  maxPayloadBytes: number;
  /**
   * The transports this producer can send over; a run asking for another is refused
   * naming it. Absent: every one (the CLI's own check, before it knows the producer).
   */
  available?: readonly CompareTransport[];
  /** Default send timeout (SEND_TIMEOUT_MS). */
  sendTimeoutMs: number;
}

/**
 * Validates a RunSpec and fills in its defaults.
 *
 * @throws SpecError naming the first field that does not fit.
 */
export function resolveSpec(spec: RunSpec | undefined, context: SpecContext): ResolvedSpec {
  const input = spec ?? create(RunSpecSchema);

  const transports: CompareTransport[] = [];
  for (const transport of input.transports) {
    if (!(COMPARE_TRANSPORTS as readonly string[]).includes(transport)) {
      throw new SpecError("transports", `has unknown transport ${JSON.stringify(transport)}; use ${COMPARE_TRANSPORTS.join(", ")}`);
    }
    if (context.available && !context.available.includes(transport as CompareTransport)) {
      throw new SpecError("transports", `has ${transport}, which this producer is not configured to send over (a reference transport needs its REFERENCE_* setting; compare --reference sets them)`);
    }
    if (transports.includes(transport as CompareTransport)) {
      throw new SpecError("transports", `lists ${transport} twice`);
    }
    transports.push(transport as CompareTransport);
  }

  if (input.payloadBytes.length > SPEC_LIMITS.payloadSizes) {
    throw new SpecError("payload_bytes", `may list at most ${SPEC_LIMITS.payloadSizes} sizes (got ${input.payloadBytes.length})`);
  }
  for (const size of input.payloadBytes) {
    if (size > context.maxPayloadBytes) {
      throw new SpecError("payload_bytes", `must be at most the handler's limit of ${context.maxPayloadBytes} bytes (got ${size})`);
    }
  }

  let load: Load;
  switch (input.load.case) {
    case "rate": {
      const rate = input.load.value;
      if (!Number.isFinite(rate) || rate <= 0 || rate > SPEC_LIMITS.rate) {
        throw new SpecError("rate", `must be a number of messages/s greater than 0 and at most ${SPEC_LIMITS.rate} (got ${rate})`);
      }
      load = { mode: "open", rate };
      break;
    }
    case "concurrency": {
      const concurrency = input.load.value;
      if (concurrency < 1 || concurrency > SPEC_LIMITS.concurrency) {
        throw new SpecError("concurrency", `must be a whole number from 1 to ${SPEC_LIMITS.concurrency} (got ${concurrency})`);
      }
      load = { mode: "closed", concurrency };
      break;
    }
    default:
      load = { mode: "closed", concurrency: SPEC_DEFAULTS.concurrency };
  }

  let end: End;
  switch (input.end.case) {
    case "duration": {
      const ms = durationMs("duration", input.end.value);
      if (ms <= 0 || ms > SPEC_LIMITS.durationMs) {
        throw new SpecError("duration", `must be greater than 0 and at most ${SPEC_LIMITS.durationMs / 1000}s (got ${ms / 1000}s)`);
      }
      end = { kind: "duration", ms };
      break;
    }
    case "messages": {
      const count = input.end.value;
      if (count < 1n || count > BigInt(SPEC_LIMITS.messages)) {
        throw new SpecError("messages", `must be a whole number from 1 to ${SPEC_LIMITS.messages} (got ${count})`);
      }
      end = { kind: "messages", count: Number(count) };
      break;
    }
    default:
      end = { kind: "duration", ms: SPEC_DEFAULTS.durationMs };
  }

  const warmupMs = input.warmup ? durationMs("warmup", input.warmup) : SPEC_DEFAULTS.warmupMs;
  if (warmupMs < 0 || warmupMs > SPEC_LIMITS.warmupMs) {
    throw new SpecError("warmup", `must be from 0 to ${SPEC_LIMITS.warmupMs / 1000}s (got ${warmupMs / 1000}s)`);
  }
  const sendTimeoutMs = input.sendTimeout ? durationMs("send_timeout", input.sendTimeout) : context.sendTimeoutMs;
  if (sendTimeoutMs <= 0 || sendTimeoutMs > SPEC_LIMITS.sendTimeoutMs) {
    throw new SpecError("send_timeout", `must be greater than 0 and at most ${SPEC_LIMITS.sendTimeoutMs / 1000}s (got ${sendTimeoutMs / 1000}s)`);
  }

  return {
    transports: transports.length > 0 ? transports : [...SPEC_DEFAULTS.transports],
    payloadBytes: input.payloadBytes.length > 0 ? [...input.payloadBytes] : [...SPEC_DEFAULTS.payloadBytes],
    load,
    end,
    warmupMs,
    sendTimeoutMs,
  };
}

/** The resolved specification as a RunSpec message, every default written out. */
export function specToProto(spec: ResolvedSpec): RunSpec {
  return create(RunSpecSchema, {
    transports: spec.transports,
    payloadBytes: spec.payloadBytes,
    load: spec.load.mode === "open" ? { case: "rate", value: spec.load.rate } : { case: "concurrency", value: spec.load.concurrency },
    end: spec.end.kind === "duration"
      ? { case: "duration", value: durationFromMs(spec.end.ms) }
      : { case: "messages", value: BigInt(spec.end.count) },
    warmup: durationFromMs(spec.warmupMs),
    sendTimeout: durationFromMs(spec.sendTimeoutMs),
  });
}

/** A Duration in milliseconds; a negative or malformed one is refused, naming `field`. */
function durationMs(field: string, duration: Duration): number {
  const ms = Number(duration.seconds) * 1000 + duration.nanos / 1e6;
  if (!Number.isFinite(ms) || duration.seconds < 0n || duration.nanos < 0) {
    throw new SpecError(field, `must not be negative (got ${ms / 1000}s)`);
  }
  return ms;
}
