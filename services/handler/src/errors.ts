import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { HandlingFailureSchema } from "@switchyard/contracts";

/** A Work that can never succeed as sent (missing id, payload too large, …). */
export class InvalidWorkError extends Error {
  override readonly name = "InvalidWorkError";
  /** The offending field, in proto field-name form (e.g. `work.payload`). */
  readonly field: string;

  constructor(field: string, problem: string) {
    super(`${field} ${problem}`);
    this.field = field;
  }
}

/** Handling failed in a way a retry may fix (the simulated failure, for one). */
export class HandlingFailedError extends Error {
  override readonly name = "HandlingFailedError";
}

/**
 * The one place the handler maps its errors to Connect codes. Errors that already are
 * ConnectErrors (a deadline abort, for one) keep their code. A handling failure stays
 * `unavailable` (a retry may succeed) but carries a HandlingFailure detail, so a client
 * can tell "the handler failed this Work" from "the handler could not be reached".
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof InvalidWorkError) return new ConnectError(error.message, Code.InvalidArgument);
  if (error instanceof HandlingFailedError) {
    const detail = create(HandlingFailureSchema, { reason: error.message });
    return new ConnectError(error.message, Code.Unavailable, undefined, [{ desc: HandlingFailureSchema, value: detail }]);
  }
  return new ConnectError("internal error", Code.Internal, undefined, undefined, error);
}
