import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { HandleResponseSchema, WorkSchema, type HandleRequest, type HandleResponse } from "@switchyard/contracts";
import { REFERENCE_HANDLE_METHOD } from "@switchyard/platform";
import { toConnectError } from "../errors.ts";
import type { HandleWork } from "../work.ts";

/** What {@link ReferenceGrpcServer} needs. */
export interface ReferenceGrpcOptions {
  handleWork: HandleWork;
  /** Largest request message accepted, in bytes (the handler's READ_MAX_BYTES). */
  readMaxBytes: number;
}

/**
 * The gRPC reference endpoint: HandlerService.Handle on a @grpc/grpc-js server, counted
 * as `grpc_js`, calling the same handleWork as every other transport. It is the
 * protocol's floor in Node beside Connect's gRPC on h2c: same wire, same codec
 * (@bufbuild/protobuf), another library. A failure answers the status code the Connect
 * routes would (Connect's codes are gRPC's), without the HandlingFailure detail.
 */
export class ReferenceGrpcServer {
  readonly #server: grpc.Server;

  constructor({ handleWork, readMaxBytes }: ReferenceGrpcOptions) {
    this.#server = new grpc.Server({ "grpc.max_receive_message_length": readMaxBytes });
    this.#server.addService({ handle: REFERENCE_HANDLE_METHOD }, {
      handle(call: grpc.ServerUnaryCall<HandleRequest, HandleResponse>, callback: grpc.sendUnaryData<HandleResponse>) {
        // A cancelled call (the client gave up, or its deadline passed) aborts the handling.
        const aborted = new AbortController();
        call.once("cancelled", () => aborted.abort());
        handleWork(call.request.work ?? create(WorkSchema), "grpc_js", aborted.signal).then(
          (receipt) => callback(null, create(HandleResponseSchema, { receipt })),
          (error: unknown) => {
            const connectError = toConnectError(error);
            callback({ code: connectError.code as number as grpc.status, details: connectError.rawMessage });
          },
        );
      },
    });
  }

  /** Listens on `host:port` (0: a port the OS picks) and resolves with the port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
      this.#server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
    });
  }

  /** Stops taking calls and lets in-flight ones finish, cutting them after `timeoutMs`. */
  close(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#server.forceShutdown(), timeoutMs);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
