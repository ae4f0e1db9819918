import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { build, type HandlerApp } from "../src/app.ts";
import { loadHandlerConfig } from "../src/config.ts";

let app: HandlerApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe("handler HTTP endpoints (inject)", () => {
  it("is alive but not ready before its listeners and broker are up", async () => {
    app = await build(loadHandlerConfig({}), pino({ level: "silent" }));
    expect((await app.http.inject("/healthz")).statusCode).toBe(200);
    const ready = await app.http.inject("/readyz");
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toEqual({
      status: "not_ready",
      conditions: { http_listener: false, h2c_listener: false, broker_subscription: false, draining: false },
    });
  });

  it("serves the Contract metrics with every transport series from the start", async () => {
    app = await build(loadHandlerConfig({}), pino({ level: "silent" }));
    const response = await app.http.inject("/metrics");
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = response.body;
    for (const transport of ["grpc", "connect", "amqp"]) {
      expect(body).toContain(`switchyard_handler_messages_total{transport="${transport}",outcome="ok"} 0`);
      expect(body).toContain(`switchyard_handler_delivery_latency_seconds_bucket{le="0.0001",transport="${transport}"} 0`);
      expect(body).toContain(`switchyard_handler_in_flight{transport="${transport}"} 0`);
    }
    expect(body).toContain('switchyard_build_info{service="handler",version="0.1.0"} 1');
    expect(body).toContain("process_cpu_seconds_total");
  });

  it("answers Connect JSON over HTTP/1.1 as curl would send it", async () => {
    app = await build(loadHandlerConfig({}), pino({ level: "silent" }));
    const response = await app.http.inject({
      method: "POST",
      url: "/switchyard.v1.HandlerService/Handle",
      headers: { "content-type": "application/json" },
      payload: '{"work":{"id":"a1","payload":"aGk="}}',
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ receipt: { workId: "a1", handlerId: expect.any(String) } });
  });
});
