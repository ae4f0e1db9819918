import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { HandlerService } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { eventually, queueCounts, takeMessages } from "../support/broker.ts";
import { amqpCounts, closeConnection, consumerConnections, handledCount, handlerSeries, rawPublisher } from "./amqp-client.ts";
import { useHandlerOnOwnVhost, useHandlerProcessOnOwnVhost } from "./running-handler.ts";

const REASON = "x-switchyard-reason";
/** Waits until the work queue holds nothing, ready or unacked (management stats lag a few seconds). */
const workQueueDrained = (vhost: string) =>
  eventually(async () => {
    const counts = await queueCounts(vhost, "switchyard.work");
    return counts.ready === 0 && counts.unacked === 0;
  });
const json = (id: string) => JSON.stringify({ id, payload: "aGk=" });

describe("handler process fed AMQP messages with hostile headers", () => {
  const fixture = useHandlerProcessOnOwnVhost({ MAX_PAYLOAD_BYTES: "1024", AMQP_PREFETCH: "16", SHUTDOWN_GRACE_MS: "3000" });

  it("handles a message whose x-death header is not an array, and its neighbours, and stays up", async () => {
    const { handler, vhost } = fixture();
    const client = await rawPublisher(vhost.url);
    for (let index = 0; index < 8; index++) {
      const headers = index === 3 ? { "x-death": "junk" } : {};
      await client.publish(json(`xdeath-${index}`), { contentType: "application/json", messageId: `xdeath-${index}`, headers });
    }
    await client.close();
    await eventually(async () => (await handledCount(handler.httpUrl, "amqp", "ok")) === 8);
    expect(handler.child.exitCode).toBeNull();
    await workQueueDrained(vhost.name);
    expect(await takeMessages(vhost.name, "switchyard.work.dead", 10)).toEqual([]);
    expect(await amqpCounts(handler.httpUrl)).toMatchObject({ ok: 8, duplicate: 0, failed: 0, dead_lettered: 0 });
  });

  it("handles valid bodies whatever their headers: junk x-death records, delivery counts, forged library headers, 60 KB values", async () => {
    const { handler, vhost } = fixture();
    const before = await handledCount(handler.httpUrl, "amqp", "ok");
    const hostile: Array<Record<string, unknown>> = [
      { "x-death": 42 },
      { "x-death": { queue: "switchyard.work" } },
      { "x-death": [null] },
      { "x-death": ["junk", 7, { queue: "switchyard.work", reason: "rejected", count: "x", time: "y" }] },
      { "x-delivery-count": "junk" },
      { "x-delivery-count": { nested: true } },
      { rascal: "junk" },
      { rascal: { recovery: { "switchyard.work": { immediateNack: true, xDeath: 5 } } } },
      { rascal: { restoreRoutingHeaders: true, originalRoutingKey: { not: "a string" }, originalExchange: 9 } },
      { rascal: { encryption: { name: "__proto__", iv: 1 } } },
      { big: "x".repeat(60_000) },
    ];
    const client = await rawPublisher(vhost.url);
    for (const [index, headers] of hostile.entries()) {
      await client.publish(json(`hostile-${index}`), { contentType: "application/json", messageId: `hostile-${index}`, headers });
    }
    await client.close();
    await eventually(async () => (await handledCount(handler.httpUrl, "amqp", "ok")) === before + hostile.length);
    expect(handler.child.exitCode).toBeNull();
    await workQueueDrained(vhost.name);
    expect(await takeMessages(vhost.name, "switchyard.work.dead", 10)).toEqual([]);
  });

  it("dead-letters a body over the size limit before decoding it, counted invalid, with the reason", async () => {
    const { handler, vhost } = fixture();
    const invalidBefore = await handledCount(handler.httpUrl, "amqp", "invalid");
    const client = await rawPublisher(vhost.url);
    // Valid protobuf JSON whose payload is far over MAX_PAYLOAD_BYTES: decoding it would
    // be the first thing to reject it, after holding the decoded copy in memory.
    const oversize = JSON.stringify({ id: "oversize", payload: Buffer.alloc(300_000).toString("base64") });
    await client.publish(oversize, { contentType: "application/json", messageId: "oversize" });
    await client.close();
    await eventually(async () => (await queueCounts(vhost.name, "switchyard.work.dead")).ready === 1);
    const [dead] = await takeMessages(vhost.name, "switchyard.work.dead", 1);
    expect(dead?.properties.message_id).toBe("oversize");
    expect(dead?.properties.headers?.[REASON]).toMatch(/^body is \d{6} bytes, over the limit of \d+ bytes for MAX_PAYLOAD_BYTES=1024$/);
    expect(await handledCount(handler.httpUrl, "amqp", "invalid")).toBe(invalidBefore + 1);
    expect(handler.child.exitCode).toBeNull();
  });
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
