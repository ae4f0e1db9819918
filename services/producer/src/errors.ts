import { Code, ConnectError } from "@connectrpc/connect";
import { SpecError } from "@switchyard/measurement";
import { RunConflictError, RunNotFoundError } from "./runs.ts";

/** A request field that is missing or malformed, outside the run specification. */
export class RequestError extends Error {
  override readonly name = "RequestError";
}

/**
 * The one place the producer maps its errors to Connect codes. A SpecError names the
 * field in its request path (`spec.rate must be …`), so callers see which field to fix.
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof SpecError) return new ConnectError(`spec.${error.message}`, Code.InvalidArgument);
  if (error instanceof RequestError) return new ConnectError(error.message, Code.InvalidArgument);
  if (error instanceof RunNotFoundError) return new ConnectError(error.message, Code.NotFound);
  if (error instanceof RunConflictError) return new ConnectError(error.message, Code.FailedPrecondition);
  return new ConnectError("internal error", Code.Internal, undefined, undefined, error);
}
