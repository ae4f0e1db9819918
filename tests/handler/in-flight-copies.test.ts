import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { HandlerService } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { eventually, queueCounts, takeMessages } from "../support/broker.ts";
import { amqpCounts, closeConnection, consumerConnections, handledCount, handlerSeries, rawPublisher } from "./amqp-client.ts";
import { useHandlerOnOwnVhost, useHandlerProcessOnOwnVhost } from "./running-handler.ts";

// A copy of work that is still being handled (an AMQP redelivery after a connection
// drop, an RPC retry) is a duplicate only once the original succeeded.

const REASON = "x-switchyard-reason";
const json = (id: string) => JSON.stringify({ id, payload: "aGk=" });

/** Waits until the work queue holds nothing, ready or unacked (management stats lag a few seconds). */
const workQueueDrained = (vhost: string) =>
  eventually(async () => {
    const counts = await queueCounts(vhost, "switchyard.work");
    return counts.ready === 0 && counts.unacked === 0;
  });

describe("handler whose AMQP connection drops while failing work is in flight", () => {
  const fixture = useHandlerProcessOnOwnVhost({
    SIMULATED_DELAY_MS: "4000",
    SIMULATED_FAILURE_RATIO: "1",
    AMQP_DELIVERY_LIMIT: "3",
    SHUTDOWN_GRACE_MS: "3000",
  });

  it("acks nothing as a duplicate: every message ends dead-lettered with its reason", async () => {
    const { handler, vhost } = fixture();
    const [consumer, ...others] = await consumerConnections(vhost.name);
    expect(others).toEqual([]);
    const client = await rawPublisher(vhost.url);
    const ids = Array.from({ length: 10 }, (_, index) => `dropped-${index}`);
    for (const id of ids) await client.publish(json(id), { contentType: "application/json", messageId: id });
    await client.close();
    // All ten are being handled (and will fail, seconds from now) when the broker drops
    // the connection; the broker redelivers them to the resubscribed consumer meanwhile.
    await eventually(async () => (await handlerSeries(handler.httpUrl, "switchyard_handler_in_flight", 'transport="amqp"')) === 10);
    await closeConnection(consumer!);
    await eventually(async () => (await queueCounts(vhost.name, "switchyard.work.dead")).ready === ids.length, 60_000, 250);
    await workQueueDrained(vhost.name);
    const counts = await amqpCounts(handler.httpUrl);
    expect(counts).toMatchObject({ ok: 0, duplicate: 0 });
    const dead = await takeMessages(vhost.name, "switchyard.work.dead", ids.length);
    expect(dead.map((message) => message.properties.message_id).sort()).toEqual([...ids].sort());
    for (const message of dead) expect(message.properties.headers?.[REASON]).toMatch(/^handling failed on delivery \d of 3: simulated handling failure$/);
    expect(handler.child.exitCode).toBeNull();
  }, 90_000);
});

describe("handler answering an RPC retry while the original call is still running", () => {
  const fixture = useHandlerOnOwnVhost({ SIMULATED_DELAY_MS: "1000", SHUTDOWN_GRACE_MS: "2000" });

  it("makes the retry wait: when the original ends in deadline_exceeded, the retry is handled, not a duplicate", async () => {
    const { handler } = fixture();
    const client = createClient(HandlerService, createGrpcTransport({ baseUrl: handler.h2cUrl }));
    const original = client.handle({ work: { id: "retried" } }, { timeoutMs: 300 }).catch((error: unknown) => ConnectError.from(error));
    await eventually(async () => (await handlerSeries(handler.httpUrl, "switchyard_handler_in_flight", 'transport="grpc"')) === 1);
    const retry = await client.handle({ work: { id: "retried" } }, { timeoutMs: 5000 });
    expect((await original) as ConnectError).toMatchObject({ code: Code.DeadlineExceeded });
    expect(retry.receipt).toMatchObject({ workId: "retried", duplicate: false });
    expect(await handledCount(handler.httpUrl, "grpc", "ok")).toBe(1);
    expect(await handledCount(handler.httpUrl, "grpc", "duplicate")).toBe(0);
  });
});
