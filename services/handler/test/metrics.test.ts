import { createRegistry } from "@switchyard/platform";
import { describe, expect, it } from "vitest";
import { createHandlerMetrics, seriesByTransport } from "../src/metrics.ts";

// The metrics layer counts outcomes and in-flight calls as plain tallies that the
// metrics publish when read: every way of reading must see them, and they must add to,
// not replace, what other code counts on the same series.
describe("handler metrics tallies", () => {
  it("a scrape and a get() both see tallied counts, added to direct inc() calls on the same series", async () => {
    const registry = createRegistry("handler", "test");
    const metrics = createHandlerMetrics(registry);
    const amqp = seriesByTransport(metrics)("amqp");
    amqp.messages.ok.inc();
    amqp.messages.ok.inc();
    metrics.messages.inc({ transport: "amqp", outcome: "ok" });
    amqp.messages.invalid.inc();
    metrics.messages.inc({ transport: "amqp", outcome: "invalid" });
    expect(await registry.metrics()).toContain('switchyard_handler_messages_total{transport="amqp",outcome="ok"} 3');
    // A second read publishes nothing twice.
    amqp.messages.ok.inc();
    const values = (await metrics.messages.get()).values;
    const value = (outcome: string) => values.find((v) => v.labels.transport === "amqp" && v.labels.outcome === outcome)?.value;
    expect({ ok: value("ok"), invalid: value("invalid"), failed: value("failed") }).toEqual({ ok: 4, invalid: 2, failed: 0 });
  });

  it("the in-flight gauge reads the calls in flight now, per transport", async () => {
    const registry = createRegistry("handler", "test");
    const metrics = createHandlerMetrics(registry);
    const series = seriesByTransport(metrics);
    series("grpc").inFlight.inc();
    series("grpc").inFlight.inc();
    series("connect").inFlight.inc();
    series("grpc").inFlight.dec();
    const values = (await metrics.inFlight.get()).values;
    const inFlight = (transport: string) => values.find((v) => v.labels.transport === transport)?.value;
    expect({ grpc: inFlight("grpc"), connect: inFlight("connect"), amqp: inFlight("amqp") }).toEqual({ grpc: 1, connect: 1, amqp: 0 });
    expect(await registry.metrics()).toContain('switchyard_handler_in_flight{transport="grpc"} 1');
  });
});
