import type { Server as HttpServer } from "node:http";
import { constants as h2, type Http2Server, type Http2Session, type ServerOptions as Http2ServerOptions } from "node:http2";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import { fastify, LogController, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { healthRoutes } from "./health-service.ts";
import { registerOpsRoutes } from "./ops-routes.ts";
import type { Readiness } from "./readiness.ts";
import { ServerTls, type ServerTlsConfig } from "./tls.ts";
import { peerAuthentication } from "./tls-peer.ts";

/** Limits the Connect router enforces on every RPC. */
export interface RpcLimits {
  /** Largest request body accepted; larger gets `resource_exhausted`. */
  readMaxBytes: number;
  /** Longest deadline a caller may ask for; longer is clamped. */
  maxTimeoutMs: number;
  /** How long `close()` lets in-flight RPCs finish before aborting them. */
  shutdownTimeoutMs: number;
}

/**
 * Node's HTTP/2 server options for the h2c listener. Node's defaults let a client keep
 * any number of streams open and reset 1 000 before nghttp2 objects; each stream costs
 * the server a request before the reset arrives (HTTP/2 "rapid reset", CVE-2023-44487).
 */
export const H2C_SERVER_OPTIONS = {
  // Streams a client may have open at once (Node's default is unlimited; Go's is 250).
  // gRPC clients queue calls beyond it on their side. A client cancelling calls faster
  // than the server reads the cancels can exceed it, and gets streams refused.
  settings: { maxConcurrentStreams: 250 },
  // Streams opened beyond that limit, and malformed frames, before the session is closed.
  maxSessionRejectedStreams: 100,
  maxSessionInvalidFrames: 100,
  // nghttp2's RST_STREAM token bucket, for resets of every kind: past it the server sends
  // GOAWAY and the client moves to a new connection. Room for a client whose open calls
  // all hit their deadline at once, several times over (Node's default: 1 000, 33/s).
  // GOAWAY takes effect only once the read in progress is processed, up to a 64 KiB
  // read's worth of streams (hundreds to a few thousand): {@link RESET_BUDGET} covers that.
  streamResetBurst: 500,
  streamResetRate: 100,
  // Node's default (10 MB) of buffered frames, header tables and stream state per session.
  maxSessionMemory: 10,
} as const satisfies Http2ServerOptions;

/**
 * Streams a client may open and reset within one read, before the server could act on
 * them, per h2c session: a burst, then a rate. An attacker does that; a client cancelling
 * on its deadline resets later and is left to nghttp2's limit above, unless the server
 * lags behind its deadlines so far that the open and the cancel arrive together. A
 * session past the budget is destroyed on the spot with ENHANCE_YOUR_CALM (its calls in
 * flight fail), so a rapid-reset client gets at most this many handlers started per
 * connection.
 */
export const RESET_BUDGET = { burst: 100, perSecond: 50 } as const;

/**
 * Timeouts of the HTTP/1.1 listener, so slow or idle connections end instead of piling
 * up (Fastify's defaults turn the request timeout and the socket idle timeout off).
 */
export const HTTP1_TIMEOUTS = {
  // Complete request headers within 10 s of the connection or the previous request
  // (Node's default 60 s): a slowloris client is cut off early.
  headersTimeoutMs: 10_000,
  // A whole request body within 30 s: at most READ_MAX_BYTES over a slow link.
  requestTimeoutMs: 30_000,
  // How often Node sweeps connections for those two timeouts (its default is 30 s, which
  // would let a slow connection live up to 40 s).
  checkEveryMs: 2_000,
  // Idle keep-alive connections close after 72 s, longer than common load balancers'
  // 60 s idle timeout so the balancer, not the server, closes them (Fastify's default).
  keepAliveTimeoutMs: 72_000,
} as const;

/** Node's options for the HTTP/1.1 server (plain or TLS); see {@link HTTP1_TIMEOUTS}. */
const HTTP1_NODE_OPTIONS = { headersTimeout: HTTP1_TIMEOUTS.headersTimeoutMs, connectionsCheckingInterval: HTTP1_TIMEOUTS.checkEveryMs };

/**
 * JSON options of the Connect router. Protobuf JSON requires strings to be valid UTF-8,
 * but Connect decodes JSON bodies with a TextDecoder that replaces bad bytes with U+FFFD,
 * so two ids differing only in invalid bytes would become one. Connect reads
 * `textDecoder` from these options (they reach its JSON serialization whole, though the
 * type declares only the protobuf JSON flags); this one refuses such a body.
 */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const JSON_OPTIONS = {
  // Connect's default, stated: unknown fields are ignored, so older handlers accept newer producers.
  ignoreUnknownFields: true,
  textDecoder: {
    decode(input?: Uint8Array): string {
      try {
        return strictUtf8.decode(input);
      } catch {
        throw new ConnectError("request body is not valid UTF-8", Code.InvalidArgument);
      }
    },
  },
};

/** Options for {@link createServers}. */
export interface ServersOptions {
  logger: Logger;
  readiness: Readiness;
  registry: Registry;
  /** The service's Connect routes (its `connect.ts` default export). */
  routes: (router: ConnectRouter) => void;
  /** Fully qualified service names the health service reports on. */
  services: readonly string[];
  limits: RpcLimits;
  /**
   * TLS for both listeners; absent: cleartext. The material is read here (a bad file
   * throws ConfigError) and reloaded when its files change.
   */
  tls?: ServerTlsConfig;
}

/** A service's two listeners, built but not listening. */
export interface Servers {
  /** HTTP/1.1: Connect (JSON and binary), gRPC-Web, `/healthz`, `/readyz`, `/metrics`. */
  http: FastifyInstance;
  /**
   * HTTP/2: gRPC and `grpc.health.v1.Health` (kubelet's gRPC probe). Cleartext (h2c,
   * prior knowledge), or with TLS HTTP/2 negotiated by ALPN `h2`; the name stays.
   */
  h2c: FastifyInstance;
  /** The listeners' TLS material and client policy, when TLS is on. */
  tls?: ServerTls;
}

/**
 * Builds both listeners with the same routes and limits. Each listener is a readiness
 * condition, true between its `onListen` and `preClose` hooks. Nothing listens here.
 */
export async function createServers(options: ServersOptions): Promise<Servers> {
  const { logger, readiness, registry, limits } = options;
  const tls = options.tls ? new ServerTls(options.tls, logger) : undefined;
  const authentication = tls?.mutual ? peerAuthentication(tls) : undefined;
  const health = healthRoutes(readiness, options.services);
  const routes = (router: ConnectRouter) => {
    options.routes(router);
    health(router);
  };
  const build = async (listener: "http" | "h2c", instance: FastifyInstance) => {
    readiness.require(`${listener}_listener`);
    instance.addHook("onListen", async () => readiness.set(`${listener}_listener`, true));
    instance.addHook("preClose", async () => readiness.set(`${listener}_listener`, false));
    await instance.register(fastifyConnectPlugin, {
      routes,
      readMaxBytes: limits.readMaxBytes,
      maxTimeoutMs: limits.maxTimeoutMs,
      jsonOptions: JSON_OPTIONS,
      shutdownTimeoutMs: limits.shutdownTimeoutMs,
      ...(authentication && { interceptors: [authentication.interceptor], contextValues: authentication.contextValues }),
    });
    return instance;
  };
  // Per-request access logs would dominate a load test's CPU; errors are still logged.
  const logController = new LogController({ disableRequestLogging: true });
  // The two listeners differ only in their raw server type; the routes are the same.
  const http = fastify({
    logController,
    // On close, drop idle keep-alive connections at once but let requests in flight
    // finish; Connect's shutdownTimeoutMs bounds them.
    forceCloseConnections: "idle",
    requestTimeout: HTTP1_TIMEOUTS.requestTimeoutMs,
    keepAliveTimeout: HTTP1_TIMEOUTS.keepAliveTimeoutMs,
    // A socket silent for longer than the longest RPC may take, plus a margin, is dead: a
    // client that stopped reading its answer, or one that connected and never sent a
    // byte (Node's headers timeout starts with the first byte).
    connectionTimeout: limits.maxTimeoutMs + 10_000,
    // Node's own options, which Fastify passes to http.createServer: it has no headers
    // timeout of its own. Node enforces the header and request timeouts on a sweep.
    // With TLS, https.createServer takes them beside the TLS options, and ALPN offers
    // HTTP/1.1 only: HTTP/2 callers use the other listener, which keeps HTTP/1.1's
    // slow-client timeouts out of HTTP/2's way.
    ...(tls
      ? { https: { ...tls.serverOptions(), ALPNProtocols: ["http/1.1"], ...HTTP1_NODE_OPTIONS } }
      : { http: HTTP1_NODE_OPTIONS }),
    loggerInstance: logger.child({ listener: "http" }),
  }) as unknown as FastifyInstance;
  registerOpsRoutes(http, { readiness, registry });
  const h2c = fastify({
    logController,
    // HTTP/2 sessions are closed gracefully on close (GOAWAY, streams finish).
    forceCloseConnections: true,
    http2: true,
    // Fastify hands `http` to http2.createServer for a cleartext HTTP/2 server, and
    // `https` to http2.createSecureServer (ALPN h2 only); its types declare `http` for
    // HTTP/1.1 only.
    ...(tls ? { https: { ...tls.serverOptions(), ...H2C_SERVER_OPTIONS } } : { http: H2C_SERVER_OPTIONS }),
    loggerInstance: logger.child({ listener: "h2c" }),
  }) as unknown as FastifyInstance;
  destroySessionsThatResetTooFast(h2c, logger.child({ listener: "h2c" }));
  closeConnectionsAsTheyIdle(http);
  destroySessionsAfterDrain(h2c, limits.shutdownTimeoutMs);
  if (tls) {
    tls.attach(http.server as never);
    tls.attach(h2c.server as never);
    tls.watch();
    // The watchers live as long as the listeners: stop them when the second one closes.
    let open = 2;
    for (const instance of [http, h2c]) instance.addHook("onClose", async () => void (--open === 0 && tls.close()));
  }
  return { http: await build("http", http), h2c: await build("h2c", h2c), tls };
}

/**
 * Enforces {@link RESET_BUDGET} on every h2c session. nghttp2 hands Node a whole read at
 * once, and a stream's 'close' fires while that read is still being processed;
 * destroying the session there stops the rest of the read, so the streams an attacker
 * packed behind the budget never reach a handler. A stream still open when the read is
 * done (setImmediate runs after it) was not reset in the same read.
 */
function destroySessionsThatResetTooFast(instance: FastifyInstance, logger: Logger): void {
  (instance.server as unknown as Http2Server).on("session", (session) => {
    const budget = new TokenBucket(RESET_BUDGET.burst, RESET_BUDGET.perSecond);
    let streams = 0;
    session.on("stream", (stream) => {
      streams += 1;
      let sameRead = true;
      setImmediate(() => (sameRead = false));
      stream.once("close", () => {
        // NO_ERROR: the stream ended normally; later resets are deadlines and cancels.
        if (!sameRead || stream.rstCode === h2.NGHTTP2_NO_ERROR || session.destroyed || budget.take()) return;
        logger.warn({ remoteAddress: session.socket?.remoteAddress, streams, budget: RESET_BUDGET }, "closing an HTTP/2 session that resets streams too fast");
        session.destroy(undefined, h2.NGHTTP2_ENHANCE_YOUR_CALM);
      });
    });
  });
}

/** A token bucket: `burst` tokens, refilled at `perSecond`. */
class TokenBucket {
  #tokens: number;
  #refilledAt = performance.now();
  readonly #burst: number;
  readonly #perSecond: number;

  constructor(burst: number, perSecond: number) {
    this.#tokens = burst;
    this.#burst = burst;
    this.#perSecond = perSecond;
  }

  /** Takes a token; false when none is left. */
  take(): boolean {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#refilledAt) / 1000) * this.#perSecond);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/**
 * Node closes the keep-alive connections that are idle when close begins, but a
 * connection whose request finishes later stays open until its keep-alive timeout,
 * holding shutdown up. While closing, idle connections are closed as they appear.
 */
function closeConnectionsAsTheyIdle(instance: FastifyInstance): void {
  instance.addHook("preClose", async () => {
    const server = instance.server as unknown as HttpServer;
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    sweep.unref();
    server.once("close", () => clearInterval(sweep));
  });
}

/**
 * Closing an HTTP/2 server waits for every session to end, and a session whose client
 * is still sending a body the server has already answered (a request over readMaxBytes,
 * for one) never ends. Past the drain budget, such sessions are destroyed so shutdown
 * stays bounded.
 */
function destroySessionsAfterDrain(instance: FastifyInstance, drainMs: number): void {
  const sessions = new Set<Http2Session>();
  (instance.server as unknown as Http2Server).on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  instance.addHook("preClose", async () => {
    setTimeout(() => {
      for (const session of sessions) session.destroy();
    }, drainMs).unref();
  });
}
