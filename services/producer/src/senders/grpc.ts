import { toBinary } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { HandleRequestSchema, HandlerService, type Work } from "@switchyard/contracts";
import type { Sender, SendResult } from "@switchyard/measurement";
import { http2SessionOptions } from "@switchyard/platform";
import { sendRpc, SizeSampler, type ClientTlsOptions } from "./sender.ts";

/**
 * gRPC over HTTP/2 cleartext (h2c) to the handler's h2c listener, with binary protobuf.
 * All sends share one HTTP/2 connection and run as concurrent streams on it.
 */
export class GrpcSender implements Sender {
  readonly transport = "grpc" as const;
  readonly #client: Client<typeof HandlerService>;
  readonly #session: Http2SessionManager;
  readonly #sizes = new SizeSampler((work) => toBinary(HandleRequestSchema, { $typeName: HandleRequestSchema.typeName, work }).byteLength);

  /**
   * `tls` applies to an https:// `baseUrl`: HTTP/2 over TLS, negotiated by ALPN `h2`;
   * reloaded material reaches the next connection (after a GOAWAY, an idle close or a drop).
   */
  constructor(baseUrl: string, tls?: ClientTlsOptions) {
    // Our own session manager, so close() can end the connection.
    this.#session = new Http2SessionManager(baseUrl, { pingIntervalMs: 10_000, idleConnectionTimeoutMs: 30_000 }, http2SessionOptions(baseUrl, tls));
    this.#client = createClient(
      HandlerService,
      // gRPC always runs over HTTP/2; an http:// base URL makes it h2c (prior knowledge),
      // an https:// one TLS.
      createGrpcTransport({ baseUrl, sessionManager: this.#session }),
    );
  }

  send(work: Work, timeoutMs: number): Promise<SendResult> {
    return sendRpc(this.#client, work, timeoutMs, this.#sizes.size(work));
  }

  async close(): Promise<void> {
    this.#session.abort();
  }
}
