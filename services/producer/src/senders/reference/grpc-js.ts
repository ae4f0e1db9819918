import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { HandleRequestSchema, type Work } from "@switchyard/contracts";
import { isOutcome, type Outcome, type Sender, type SendResult } from "@switchyard/measurement";
import { REFERENCE_HANDLE_METHOD } from "@switchyard/platform";
import { SizeSampler } from "../sender.ts";

/** A grpc-js status as an outcome: `DEADLINE_EXCEEDED` → `deadline_exceeded`. */
export function grpcStatusOutcome(code: grpc.status): Outcome {
  const name = (grpc.status[code] ?? "UNKNOWN").toLowerCase();
  // gRPC spells it CANCELLED; the outcome set, like Connect, `canceled`.
  const outcome = name === "cancelled" ? "canceled" : name;
  return isOutcome(outcome) ? outcome : "unknown";
}

/**
 * The gRPC reference sender (`grpc_js`): a @grpc/grpc-js client on one HTTP/2 connection
 * to the handler's grpc-js endpoint, the same HandlerService.Handle with the same codec
 * and a deadline on every call. Cleartext only.
 */
export class GrpcJsSender implements Sender {
  readonly transport = "grpc_js" as const;
  readonly #client: grpc.Client;
  readonly #sizes = new SizeSampler((work) => toBinary(HandleRequestSchema, create(HandleRequestSchema, { work })).byteLength);

  /** `baseUrl` is `http://host:port` of the handler's REFERENCE_GRPC_PORT. */
  constructor(baseUrl: string) {
    this.#client = new grpc.Client(new URL(baseUrl).host, grpc.credentials.createInsecure());
  }

  send(work: Work, timeoutMs: number): Promise<SendResult> {
    const bytes = this.#sizes.size(work);
    const { path, requestSerialize, responseDeserialize } = REFERENCE_HANDLE_METHOD;
    return new Promise((resolve) => {
      this.#client.makeUnaryRequest(
        path,
        requestSerialize,
        responseDeserialize,
        create(HandleRequestSchema, { work }),
        { deadline: Date.now() + timeoutMs },
        (error) => resolve({ outcome: error ? grpcStatusOutcome(error.code) : "ok", bytes }),
      );
    });
  }

  async close(): Promise<void> {
    this.#client.close();
  }
}
