import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { build } from "../src/app.ts";
import { loadProducerConfig } from "../src/config.ts";

describe("producer metrics", () => {
  it("exposes the Contract series for every transport from the first scrape", async () => {
    const app = await build(loadProducerConfig({}), pino({ level: "silent" }));
    try {
      const text = await app.registry.metrics();
      for (const transport of ["grpc", "connect", "amqp"]) {
        expect(text).toContain(`switchyard_producer_messages_total{transport="${transport}",outcome="ok"} 0`);
        expect(text).toContain(`switchyard_producer_send_duration_seconds_count{transport="${transport}"} 0`);
        expect(text).toContain(`switchyard_producer_message_bytes_total{transport="${transport}"} 0`);
        expect(text).toContain(`switchyard_producer_in_flight{transport="${transport}"} 0`);
      }
      expect(text).toContain('switchyard_producer_send_duration_seconds_bucket{le="0.0001",transport="grpc"} 0');
      expect(text).toMatch(/switchyard_build_info\{service="producer",version="[^"]+"\} 1/);
    } finally {
      await app.close();
    }
  });

  it("serves /metrics and reports not ready before listening", async () => {
    const app = await build(loadProducerConfig({}), pino({ level: "silent" }));
    try {
      const metrics = await app.http.inject({ method: "GET", url: "/metrics" });
      expect(metrics.statusCode).toBe(200);
      expect(metrics.body).toContain("switchyard_producer_in_flight");
      const ready = await app.http.inject({ method: "GET", url: "/readyz" });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().conditions).toMatchObject({ broker_publisher: false });
    } finally {
      await app.close();
    }
  });
});
