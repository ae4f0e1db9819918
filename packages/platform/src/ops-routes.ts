import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import type { Readiness } from "./readiness.ts";

/**
 * Adds the plain HTTP operations endpoints: `/healthz` (the process answers: liveness),
 * `/readyz` (200 only when every readiness condition holds, 503 otherwise, with each
 * condition in the body) and `/metrics` (Prometheus text format from the service's
 * own registry).
 */
export function registerOpsRoutes(
  app: FastifyInstance,
  { readiness, registry }: { readiness: Readiness; registry: Registry },
): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    const ready = readiness.ready;
    return reply
      .code(ready ? 200 : 503)
      .send({ status: ready ? "ready" : "not_ready", conditions: readiness.snapshot() });
  });
  app.get("/metrics", async (_request, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
}
