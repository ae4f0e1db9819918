import { create, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { WorkSchema } from "@switchyard/contracts";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestVhost, eventually, queueCounts, takeMessages, type TestVhost } from "../support/broker.ts";
import { startHandler, useHandlerOnOwnVhost, type RunningHandler } from "./running-handler.ts";

/** Publishes raw bodies the way any AMQP client would, waiting for the broker's confirm. */
async function publisher(url: string) {
  const connection = await amqp.connect(url);
  const channel = await connection.createConfirmChannel();
  return {
    publish: async (body: Uint8Array | string, contentType: string | undefined, messageId?: string) => {
      channel.publish("switchyard.work", "work", Buffer.from(body), { contentType, messageId, persistent: true, mandatory: true });
      await channel.waitForConfirms();
    },
    close: () => connection.close(),
  };
}

async function metric(handler: RunningHandler, outcome: string): Promise<number> {
  const text = await (await fetch(`${handler.httpUrl}/metrics`)).text();
  const match = new RegExp(`switchyard_handler_messages_total\\{transport="amqp",outcome="${outcome}"\\} (\\d+)`).exec(text);
  return Number(match?.[1] ?? Number.NaN);
}

describe("handler over RabbitMQ", () => {
  let vhost: TestVhost;
  let handler: RunningHandler;
  let client: Awaited<ReturnType<typeof publisher>>;

  beforeAll(async () => {
    vhost = await createTestVhost();
    handler = await startHandler({ AMQP_URL: vhost.url, MAX_PAYLOAD_BYTES: "1024", SHUTDOWN_GRACE_MS: "2000" });
    await eventually(() => handler.app.readiness.ready);
    client = await publisher(vhost.url);
  });
  afterAll(async () => {
    await client?.close();
    await handler?.close();
    await vhost?.delete();
  });

  it("declares the Contract topology: quorum work queue with explicit delivery limit and a DLQ", async () => {
    const { management } = await import("../support/broker.ts");
    const queue = (await management(`/queues/${encodeURIComponent(vhost.name)}/switchyard.work`)) as {
      type: string;
      durable: boolean;
      arguments: Record<string, unknown>;
    };
    expect(queue).toMatchObject({ type: "quorum", durable: true });
    expect(queue.arguments).toMatchObject({ "x-delivery-limit": 5, "x-dead-letter-exchange": "switchyard.dead" });
    const dead = (await management(`/queues/${encodeURIComponent(vhost.name)}/switchyard.work.dead`)) as { durable: boolean };
    expect(dead.durable).toBe(true);
  });

  it("handles a protobuf JSON body and a binary protobuf body, acking both", async () => {
    await client.publish('{"id":"json-1","payload":"aGk="}', "application/json");
    const binary = toBinary(WorkSchema, create(WorkSchema, { id: "bin-1", sentAt: timestampNow(), payload: new Uint8Array(10) }));
    await client.publish(binary, "application/x-protobuf");
    await eventually(async () => (await metric(handler, "ok")) === 2);
    await eventually(async () => {
      const counts = await queueCounts(vhost.name, "switchyard.work");
      return counts.ready === 0 && counts.unacked === 0;
    });
  });

  it("handles a second copy of the same Work.id once and counts it duplicate", async () => {
    await client.publish('{"id":"twice","payload":"aGk="}', "application/json");
    await client.publish('{"id":"twice","payload":"aGk="}', "application/json");
    await eventually(async () => (await metric(handler, "duplicate")) === 1);
  });

  it("dead-letters undecodable and invalid bodies at once, with the reason in a header, counted invalid", async () => {
    await client.publish("not json", "application/json");
    await client.publish(new Uint8Array([0x0a, 0xff, 0xff]), "application/x-protobuf");
    await client.publish('{"payload":"aGk="}', "application/json");
    await client.publish(JSON.stringify({ id: "huge", payload: Buffer.alloc(2048).toString("base64") }), "application/json");
    await client.publish("a,b,c", "text/csv");
    await eventually(async () => (await queueCounts(vhost.name, "switchyard.work.dead")).ready === 5);
    expect(await metric(handler, "invalid")).toBe(5);
    expect(await metric(handler, "dead_lettered")).toBe(5);
    const reasons = (await takeMessages(vhost.name, "switchyard.work.dead", 5)).map(
      (message) => message.properties.headers?.["x-switchyard-reason"],
    );
    // Messages are handled concurrently (prefetch), so they reach the DLQ in any order.
    expect(reasons).toHaveLength(5);
    expect(reasons).toEqual(expect.arrayContaining([
      expect.stringMatching(/^undecodable body: .*JSON/),
      expect.stringMatching(/^undecodable body: premature EOF/),
      "invalid work: work.id is required",
      "invalid work: work.payload is 2048 bytes, over the limit of 1024",
      expect.stringMatching(/^undecodable body: unsupported content_type "text\/csv"/),
    ]));
  });
});

describe("handler over RabbitMQ when handling keeps failing", () => {
  const fixture = useHandlerOnOwnVhost({ AMQP_DELIVERY_LIMIT: "3", SIMULATED_FAILURE_RATIO: "1", SHUTDOWN_GRACE_MS: "2000" });

  it("redelivers up to the delivery limit, then dead-letters with the reason, counting each attempt", async () => {
    const { handler, vhost } = fixture();
    const client = await publisher(vhost.url);
    await client.publish('{"id":"doomed","payload":"aGk="}', "application/json", "doomed");
    await client.close();
    await eventually(async () => (await queueCounts(vhost.name, "switchyard.work.dead")).ready === 1);
    expect(await metric(handler, "failed")).toBe(3);
    expect(await metric(handler, "dead_lettered")).toBe(1);
    expect(await metric(handler, "ok")).toBe(0);
    const [dead] = await takeMessages(vhost.name, "switchyard.work.dead", 1);
    expect(dead?.properties.message_id).toBe("doomed");
    expect(dead?.properties.headers?.["x-switchyard-reason"]).toBe(
      "handling failed on delivery 3 of 3: simulated handling failure",
    );
    expect(await queueCounts(vhost.name, "switchyard.work")).toEqual({ ready: 0, unacked: 0 });
  });
});
