import type { Server as HttpServer } from "node:http";
import type { Http2Server, Http2Session } from "node:http2";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import { fastify, LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { healthRoutes } from "./health-service.ts";
import { H2C_SERVER_OPTIONS, HTTP1_NODE_OPTIONS, HTTP1_TIMEOUTS } from "./listener-limits.ts";
import { registerOpsRoutes } from "./ops-routes.ts";
import type { Readiness } from "./readiness.ts";
import { ServerTls, type ServerTlsConfig } from "./tls.ts";
import { peerAuthentication } from "./tls-peer.ts";
import { destroySessionsThatResetTooFast } from "./reset-guard.ts";

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

/**
 * A request's logger is its listener's own, not a pino child binding the request id:
 * with access logs off nothing else carries that id, so it would tie no lines together,
 * and building the child (pino re-applying the redaction paths) cost 1-2% of the
 * handler's time. Lines Fastify logs for a request keep the listener's bindings.
 */
const LISTENER_LOGGER_PER_REQUEST = (logger: FastifyBaseLogger): FastifyBaseLogger => logger;

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
   * TLS for every listener; absent: cleartext. The material is read here (a bad file
   * throws ConfigError) and reloaded when its files change.
   */
  tls?: ServerTlsConfig;
  /**
   * Connect routes of the ops side (the handler's ObservationService): served on the ops
   * listener when there is one, else on both data listeners beside `routes`.
   */
  opsRoutes?: (router: ConnectRouter) => void;
  /**
   * Build a third listener for `/healthz`, `/readyz`, `/metrics` and `opsRoutes`
   * (OPS_PORT set), taking them off the data listeners so a NetworkPolicy can admit only
   * the kubelet and the scraper to it. It never asks for a client certificate.
   */
  separateOps?: boolean;
}

/** A service's listeners, built but not listening. */
export interface Servers {
  /** HTTP/1.1: Connect (JSON and binary), gRPC-Web; `/healthz`, `/readyz`, `/metrics` unless {@link Servers.ops} is there. */
  http: FastifyInstance;
  /**
   * HTTP/2: gRPC and `grpc.health.v1.Health` (kubelet's gRPC probe). Cleartext (h2c,
   * prior knowledge), or with TLS HTTP/2 negotiated by ALPN `h2`; the name stays.
   */
  h2c: FastifyInstance;
  /** HTTP/1.1 ops listener (`/healthz`, `/readyz`, `/metrics`, the ops routes), when asked for. */
  ops?: FastifyInstance;
  /** The listeners' TLS material and client policy, when TLS is on. */
  tls?: ServerTls;
  /** Closes every listener at once, letting in-flight requests finish within the limits. */
  closeListeners(): Promise<void>;
}

type Listener = "http" | "h2c" | "ops";

/**
 * Builds the listeners: the two data listeners with the same routes and limits, and the
 * ops listener when asked for. Each listener is a readiness condition, true between its
 * `onListen` and `preClose` hooks. Nothing listens here.
 */
export async function createServers(options: ServersOptions): Promise<Servers> {
  const { logger, readiness, registry, limits } = options;
  const tls = options.tls ? new ServerTls(options.tls, logger) : undefined;
  const authentication = tls?.mutual ? peerAuthentication(tls) : undefined;
  const health = healthRoutes(readiness, options.services);
  const separateOps = options.separateOps === true;
  const dataRoutes = (router: ConnectRouter) => {
    options.routes(router);
    if (!separateOps) options.opsRoutes?.(router);
    health(router);
  };
  const build = async (listener: Listener, instance: FastifyInstance, routes: (router: ConnectRouter) => void, authenticated: boolean) => {
    readiness.require(`${listener}_listener`);
    instance.addHook("onListen", async () => readiness.set(`${listener}_listener`, true));
    instance.addHook("preClose", async () => readiness.set(`${listener}_listener`, false));
    await instance.register(fastifyConnectPlugin, {
      routes,
      readMaxBytes: limits.readMaxBytes,
      maxTimeoutMs: limits.maxTimeoutMs,
      jsonOptions: JSON_OPTIONS,
      shutdownTimeoutMs: limits.shutdownTimeoutMs,
      ...(authenticated && authentication && { interceptors: [authentication.interceptor], contextValues: authentication.contextValues }),
    });
    return instance;
  };
  // Per-request access logs would dominate a load test's CPU; errors are still logged.
  const logController = new LogController({ disableRequestLogging: true });
  const http = http1Listener({ logController, logger: logger.child({ listener: "http" }), limits, tls: tls && tls.serverOptions() });
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
    childLoggerFactory: LISTENER_LOGGER_PER_REQUEST,
  }) as unknown as FastifyInstance;
  // Kubelet probes and Prometheus present no client certificate: the ops listener never
  // asks for one, even under mutual TLS (a server's requestCert survives reloads).
  const ops = separateOps
    ? http1Listener({ logController, logger: logger.child({ listener: "ops" }), limits, tls: tls && { ...tls.serverOptions(), requestCert: false } })
    : undefined;
  registerOpsRoutes(ops ?? http, { readiness, registry });
  destroySessionsThatResetTooFast(h2c.server as unknown as Http2Server, logger.child({ listener: "h2c" }));
  destroySessionsAfterDrain(h2c, limits.shutdownTimeoutMs);
  const listeners = [http, h2c, ...(ops ? [ops] : [])];
  if (tls) {
    for (const instance of listeners) tls.attach(instance.server as never);
    tls.watch();
    // The watchers live as long as the listeners: stop them when the last one closes.
    let open = listeners.length;
    for (const instance of listeners) instance.addHook("onClose", async () => void (--open === 0 && tls.close()));
  }
  return {
    http: await build("http", http, dataRoutes, true),
    h2c: await build("h2c", h2c, dataRoutes, true),
    ...(ops && { ops: await build("ops", ops, options.opsRoutes ?? (() => {}), false) }),
    tls,
    closeListeners: async () => void (await Promise.all(listeners.map((instance) => instance.close()))),
  };
}

/**
 * An HTTP/1.1 listener (the data listener or the ops listener), plain or over TLS with
 * `tls` as its server options, with {@link HTTP1_TIMEOUTS}.
 */
function http1Listener(options: {
  logController: LogController;
  logger: Logger;
  limits: RpcLimits;
  tls: ReturnType<ServerTls["serverOptions"]> | undefined;
}): FastifyInstance {
  const { tls } = options;
  const instance = fastify({
    logController: options.logController,
    // On close, drop idle keep-alive connections at once but let requests in flight
    // finish; Connect's shutdownTimeoutMs bounds them.
    forceCloseConnections: "idle",
    requestTimeout: HTTP1_TIMEOUTS.requestTimeoutMs,
    keepAliveTimeout: HTTP1_TIMEOUTS.keepAliveTimeoutMs,
    // A socket silent for longer than the longest RPC may take, plus a margin, is dead: a
    // client that stopped reading its answer, or one that connected and never sent a
    // byte (Node's headers timeout starts with the first byte).
    connectionTimeout: options.limits.maxTimeoutMs + 10_000,
    // Node's own options, which Fastify passes to http.createServer: it has no headers
    // timeout of its own. Node enforces the header and request timeouts on a sweep.
    // With TLS, https.createServer takes them beside the TLS options, and ALPN offers
    // HTTP/1.1 only: HTTP/2 callers use the h2c listener, which keeps HTTP/1.1's
    // slow-client timeouts out of HTTP/2's way.
    ...(tls ? { https: { ...tls, ALPNProtocols: ["http/1.1"], ...HTTP1_NODE_OPTIONS } } : { http: HTTP1_NODE_OPTIONS }),
    loggerInstance: options.logger,
    childLoggerFactory: LISTENER_LOGGER_PER_REQUEST,
  }) as unknown as FastifyInstance;
  closeConnectionsAsTheyIdle(instance);
  return instance;
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
