import type { Server as HttpServer } from "node:http";
import type { Http2Server, Http2Session } from "node:http2";
import type { ConnectRouter } from "@connectrpc/connect";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import { fastify, LogController, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { healthRoutes } from "./health-service.ts";
import { registerOpsRoutes } from "./ops-routes.ts";
import type { Readiness } from "./readiness.ts";

/** Limits the Connect router enforces on every RPC. */
export interface RpcLimits {
  /** Largest request body accepted; larger gets `resource_exhausted`. */
  readMaxBytes: number;
  /** Longest deadline a caller may ask for; longer is clamped. */
  maxTimeoutMs: number;
  /** How long `close()` lets in-flight RPCs finish before aborting them. */
  shutdownTimeoutMs: number;
}

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
}

/** A service's two listeners, built but not listening. */
export interface Servers {
  /** HTTP/1.1: Connect (JSON and binary), gRPC-Web, `/healthz`, `/readyz`, `/metrics`. */
  http: FastifyInstance;
  /** HTTP/2 cleartext: gRPC and `grpc.health.v1.Health` (kubelet's gRPC probe). */
  h2c: FastifyInstance;
}

/**
 * Builds both listeners with the same routes and limits. Each listener is a readiness
 * condition, true between its `onListen` and `preClose` hooks. Nothing listens here.
 */
export async function createServers(options: ServersOptions): Promise<Servers> {
  const { logger, readiness, registry, limits } = options;
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
      shutdownTimeoutMs: limits.shutdownTimeoutMs,
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
    loggerInstance: logger.child({ listener: "http" }),
  }) as unknown as FastifyInstance;
  registerOpsRoutes(http, { readiness, registry });
  const h2c = fastify({
    logController,
    // HTTP/2 sessions are closed gracefully on close (GOAWAY, streams finish).
    forceCloseConnections: true,
    http2: true,
    loggerInstance: logger.child({ listener: "h2c" }),
  }) as unknown as FastifyInstance;
  closeConnectionsAsTheyIdle(http);
  destroySessionsAfterDrain(h2c, limits.shutdownTimeoutMs);
  return { http: await build("http", http), h2c: await build("h2c", h2c) };
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
