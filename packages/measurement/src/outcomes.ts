import { Code, ConnectError } from "@connectrpc/connect";
import { HandlingFailureSchema } from "@switchyard/contracts";

/**
 * How one send can end, the one list shared by the senders, the
 * `switchyard_producer_messages_total{outcome}` label, the phase figures and the report.
 *
 * - `ok`: the transport acknowledged the Work (an RPC answered, a publish confirmed).
 * - `handling_failed`: the handler received the Work and answered that handling it
 *   failed (its HandlingFailure error detail). The handler was reachable.
 * - The Connect codes in snake_case (`unavailable`, `deadline_exceeded`, …): an RPC
 *   failed with that code and no HandlingFailure detail.
 * - `nacked`, `returned`, `timeout`: AMQP publishes the broker refused, could not route,
 *   or did not confirm in time while connected. AMQP `unavailable` means no connection.
 *
 * A scheduled send that never started is not an outcome: phases count it as not sent.
 */
export const OUTCOMES = [
  "ok",
  "handling_failed",
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
  "nacked",
  "returned",
  "timeout",
] as const;

/** One of {@link OUTCOMES}. */
export type Outcome = (typeof OUTCOMES)[number];

/** True for a string that is one of {@link OUTCOMES}. */
export function isOutcome(value: string): value is Outcome {
  return (OUTCOMES as readonly string[]).includes(value);
}

/** `DeadlineExceeded` → `deadline_exceeded`. */
export function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}

/**
 * The outcome of a failed RPC: `handling_failed` when the handler attached its
 * HandlingFailure detail, otherwise the Connect code name in snake_case.
 */
export function rpcOutcome(error: unknown): Outcome {
  const connectError = ConnectError.from(error);
  if (connectError.findDetails(HandlingFailureSchema).length > 0) return "handling_failed";
  const name = snakeCase(Code[connectError.code] ?? "Unknown");
  return isOutcome(name) ? name : "unknown";
}

/** Counts of finished sends by outcome; absent outcomes did not happen. */
export type OutcomeCounts = Partial<Record<Outcome, number>>;

/**
 * Plain-language notes for a phase's outcomes that a table of counts cannot say by
 * itself: that nothing got through because the peer could not be reached, or that the
 * handler was reached but failed to handle some Work.
 */
export function outcomeNotes(transport: string, outcomes: OutcomeCounts): string[] {
  const notes: string[] = [];
  const ok = outcomes.ok ?? 0;
  const unavailable = outcomes.unavailable ?? 0;
  const failed = outcomes.handling_failed ?? 0;
  if (ok === 0 && unavailable > 0) {
    const peer = transport === "amqp" || transport === "amqplib" ? "broker" : "handler";
    notes.push(`${peer} unreachable over ${transport}: ${unavailable} sends failed with unavailable`);
  }
  if (failed > 0) {
    notes.push(`the handler was reached but failed to handle ${failed} sends over ${transport} (handling_failed)`);
  }
  return notes;
}
