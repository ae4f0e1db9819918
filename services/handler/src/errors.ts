import { Code, ConnectError } from "@connectrpc/connect";

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
 * ConnectErrors (a deadline abort, for one) keep their code.
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof InvalidWorkError) return new ConnectError(error.message, Code.InvalidArgument);
  if (error instanceof HandlingFailedError) return new ConnectError(error.message, Code.Unavailable);
  return new ConnectError("internal error", Code.Internal, undefined, undefined, error);
}
