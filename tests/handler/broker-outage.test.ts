import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { HandlerService } from "@switchyard/contracts";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "@switchyard/contracts/health";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/broker.ts";
import { startPrivateBroker, type PrivateBroker } from "../support/private-broker.ts";
import { startHandler, type RunningHandler } from "./running-handler.ts";

// Stopping a broker is destructive, so this file uses a RabbitMQ node of its own.
describe("handler through a broker outage", () => {
  let broker: PrivateBroker;
  let handler: RunningHandler;

  beforeAll(async () => {
    broker = await startPrivateBroker();
  }, 90_000);
  afterAll(async () => {
    await handler?.close();
    await broker?.destroy();
  });

  const readyz = async () => (await fetch(`${handler.httpUrl}/readyz`)).status;
  const health = async () =>
    (await createClient(Health, createGrpcTransport({ baseUrl: handler.h2cUrl })).check({ service: "" })).status;
  const handle = async (id: string) =>
    (await createClient(HandlerService, createGrpcTransport({ baseUrl: handler.h2cUrl })).handle({ work: { id } })).receipt?.workId;

  it("starts with the broker down: RPC serves, readiness says not ready", async () => {
    await broker.stopApp();
    handler = await startHandler({ AMQP_URL: broker.url, SHUTDOWN_GRACE_MS: "4000" });
    expect(await handle("while-down-at-start")).toBe("while-down-at-start");
    expect(await readyz()).toBe(503);
    expect(await health()).toBe(Serving.NOT_SERVING);
  }, 60_000);

  it("becomes ready once the broker comes up", async () => {
    await broker.startApp();
    await eventually(async () => (await readyz()) === 200, 30_000, 250);
    expect(await health()).toBe(Serving.SERVING);
  }, 60_000);

  it("loses readiness while the broker is stopped mid-run, keeps serving RPC, and recovers on its own", async () => {
    await broker.stopApp();
    await eventually(async () => (await readyz()) === 503, 15_000, 100);
    expect(await health()).toBe(Serving.NOT_SERVING);
    expect(await handle("while-down-mid-run")).toBe("while-down-mid-run");

    await broker.startApp();
    await eventually(async () => (await readyz()) === 200, 30_000, 250);
    expect(await health()).toBe(Serving.SERVING);

    // Resubscribed for real: a message published now is consumed and handled.
    const connection = await amqp.connect(broker.url);
    const channel = await connection.createConfirmChannel();
    channel.publish("switchyard.work", "work", Buffer.from('{"id":"after-restart"}'), { contentType: "application/json" });
    await channel.waitForConfirms();
    await connection.close();
    await eventually(async () => {
      const metrics = await (await fetch(`${handler.httpUrl}/metrics`)).text();
      return metrics.includes('switchyard_handler_messages_total{transport="amqp",outcome="ok"} 1');
    }, 15_000);
  }, 90_000);
});
