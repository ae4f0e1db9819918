import { create, fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { HandleRequestSchema, HandleResponseSchema, WorkSchema, type HandleRequest } from "@switchyard/contracts";
import { HANDLE_PATH } from "@switchyard/platform";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { toConnectError } from "../errors.ts";
import type { HandleWork } from "../work.ts";

/** What {@link ReferenceHttpServer} needs. */
export interface ReferenceHttpOptions {
  handleWork: HandleWork;
  /** Largest request body accepted, in bytes (the handler's READ_MAX_BYTES). */
  readMaxBytes: number;
}

// The HTTP status a Connect server answers for each code, so a client reads the same
// statuses from either endpoint.
const HTTP_STATUS: Partial<Record<Code, number>> = {
  [Code.Canceled]: 499,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.ResourceExhausted]: 429,
  [Code.Unavailable]: 503,
  [Code.Unimplemented]: 501,
};

/** `DeadlineExceeded` → `deadline_exceeded`, the Connect protocol's JSON error code. */
const codeName = (code: Code) => (Code[code] ?? "Unknown").replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();

/**
 * The plain-HTTP reference endpoint: `POST /switchyard.v1.HandlerService/Handle` on a bare
 * node:http server, taking `{"work": …}` as protobuf JSON and answering
 * `{"receipt": …}`, counted as `http_json`, calling the same handleWork. It is what any
 * JSON-over-HTTP service pays at least, beside the Connect routes on Fastify. Errors
 * answer a Connect-shaped body (`{"code": "invalid_argument", "message": …}`) with the
 * status a Connect server would give.
 */
export class ReferenceHttpServer {
  readonly #server: Server;
  readonly #options: ReferenceHttpOptions;

  constructor(options: ReferenceHttpOptions) {
    this.#options = options;
    this.#server = createServer((request, response) => void this.#serve(request, response));
    // Longer than any client's idle pool timeout, so the server never closes a
    // connection a client is about to reuse (Node's default is 5 s).
    this.#server.keepAliveTimeout = 72_000;
  }

  /** Listens on `host:port` (0: a port the OS picks) and resolves with the port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => {
        this.#server.off("error", reject);
        resolve((this.#server.address() as AddressInfo).port);
      });
    });
  }

  /** Stops accepting, lets in-flight requests finish, cutting them after `timeoutMs`. */
  close(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) return resolve();
      const timer = setTimeout(() => this.#server.closeAllConnections(), timeoutMs);
      this.#server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.#server.closeIdleConnections();
    });
  }

  async #serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.url !== HANDLE_PATH) return void response.writeHead(404).end();
    if (request.method !== "POST") return void response.writeHead(405, { allow: "POST" }).end();
    // The client going away (its timeout, a dropped connection) aborts the handling.
    const aborted = new AbortController();
    response.once("close", () => {
      if (!response.writableFinished) aborted.abort();
    });
    const body = await this.#readBody(request);
    if (body === undefined) return this.#fail(response, Code.ResourceExhausted, `request body exceeds ${this.#options.readMaxBytes} bytes`, 413);
    let parsed: HandleRequest;
    try {
      parsed = fromJsonString(HandleRequestSchema, body.toString("utf8"));
    } catch (error) {
      return this.#fail(response, Code.InvalidArgument, `undecodable body: ${error instanceof Error ? error.message : String(error)}`);
    }
    try {
      const receipt = await this.#options.handleWork(parsed.work ?? create(WorkSchema), "http_json", aborted.signal);
      const answer = toJsonString(HandleResponseSchema, create(HandleResponseSchema, { receipt }));
      response.writeHead(200, { "content-type": "application/json" }).end(answer);
    } catch (error) {
      const connectError = toConnectError(error);
      this.#fail(response, connectError.code, connectError.rawMessage);
    }
  }

  /** The whole body, or undefined once it passes the limit (then the rest is not read). */
  async #readBody(request: IncomingMessage): Promise<Buffer | undefined> {
    const { readMaxBytes } = this.#options;
    const declared = Number(request.headers["content-length"] ?? 0);
    if (declared > readMaxBytes) return undefined;
    const chunks: Buffer[] = [];
    let length = 0;
    try {
      for await (const chunk of request as AsyncIterable<Buffer>) {
        length += chunk.length;
        if (length > readMaxBytes) return undefined;
        chunks.push(chunk);
      }
    } catch {
      return Buffer.alloc(0);
    }
    return Buffer.concat(chunks, length);
  }

  #fail(response: ServerResponse, code: Code, message: string, status = HTTP_STATUS[code] ?? 500): void {
    if (response.headersSent || response.destroyed) return;
    // A body left unread past the limit must not be parsed as the next request.
    const close = status === 413 ? { connection: "close" } : {};
    response.writeHead(status, { "content-type": "application/json", ...close }).end(JSON.stringify({ code: codeName(code), message }));
  }
}
