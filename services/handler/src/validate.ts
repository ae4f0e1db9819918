import type { Work } from "@switchyard/contracts";
import { InvalidWorkError } from "./errors.ts";
import type { HandleWork } from "./work.ts";

/** Largest sequence the ledger can track exactly (JavaScript numbers are doubles). */
const MAX_SEQUENCE = BigInt(Number.MAX_SAFE_INTEGER);

/** Longest Work.id accepted, in characters. */
export const MAX_ID_LENGTH = 256;

/**
 * Checks what every Work must satisfy, whatever its transport.
 *
 * @throws InvalidWorkError naming the first offending field.
 */
export function validateWork(work: Work, maxPayloadBytes: number): void {
  if (work.id === "") throw new InvalidWorkError("work.id", "is required");
  if (work.id.length > MAX_ID_LENGTH) throw new InvalidWorkError("work.id", `must be at most ${MAX_ID_LENGTH} characters`);
  if (work.payload.byteLength > maxPayloadBytes) {
    throw new InvalidWorkError(
      "work.payload",
      `is ${work.payload.byteLength} bytes, over the limit of ${maxPayloadBytes}`,
    );
  }
  if (work.sequence > MAX_SEQUENCE) {
    throw new InvalidWorkError("work.sequence", `must be at most ${MAX_SEQUENCE}`);
  }
}

/**
 * The validation layer: work that can never succeed is rejected with
 * {@link InvalidWorkError} before it reaches deduplication, so it takes no dedupe memory
 * and an invalid copy is never reported as a duplicate of a valid one.
 */
export function validated(maxPayloadBytes: number, next: HandleWork): HandleWork {
  // Not async: an async wrapper would add a promise per call to pass next's through.
  return function handleValid(work, transport, signal) {
    try {
      validateWork(work, maxPayloadBytes);
    } catch (error) {
      return Promise.reject(error);
    }
    return next(work, transport, signal);
  };
}
