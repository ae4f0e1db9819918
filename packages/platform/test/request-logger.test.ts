// Per-request access logs are off, so a request's logger is its listener's own: Fastify
// builds no pino child (and pino re-applies no redaction paths) per request.
import { connect } from "node:http2";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../src/logger.ts";
import { createRegistry } from "../src/metrics.ts";
import { Readiness } from "../src/readiness.ts";
import { createServers, type Servers } from "../src/servers.ts";

describe("createServers request loggers", () => {
  let servers: Servers | undefined;
  afterEach(async () => {
    await servers?.closeListeners();
    servers = undefined;
  });

  it("gives each request its listener's logger, which still names the listener", async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    servers = await createServers({
      logger: createLogger({ service: "test", level: "info", destination }),
      readiness: new Readiness(),
      registry: createRegistry("test", "0.0.0"),
      routes: () => {},
      services: [],
      limits: { readMaxBytes: 1024, maxTimeoutMs: 1_000, shutdownTimeoutMs: 1_000 },
    });
    const sameLogger: Record<string, boolean> = {};
    const watch = (name: string, instance: FastifyInstance) =>
      instance.addHook("onRequest", async (request) => {
        sameLogger[name] = request.log === instance.log;
        request.log.info("request seen");
      });
    watch("http", servers.http);
    watch("h2c", servers.h2c);
    const httpUrl = await servers.http.listen({ port: 0, host: "127.0.0.1" });
    const h2cUrl = await servers.h2c.listen({ port: 0, host: "127.0.0.1" });

    await fetch(`${httpUrl}/healthz`);
    const session = connect(h2cUrl);
    try {
      await new Promise<void>((resolve, reject) => {
        const stream = session.request({ ":path": "/healthz" });
        stream.on("error", reject).on("close", () => resolve());
        stream.resume();
      });
    } finally {
      session.close();
    }

    expect(sameLogger).toEqual({ http: true, h2c: true });
    const seen = lines.map((line) => JSON.parse(line)).filter((line) => line.msg === "request seen");
    expect(seen.map((line) => line.listener).sort()).toEqual(["h2c", "http"]);
  });
});
