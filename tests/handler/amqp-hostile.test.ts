import type { Options } from "amqplib";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/broker.ts";
import { startPrivateBroker, type PrivateBroker } from "../support/private-broker.ts";
import { amqpCounts, drainQueue, handledCount, rawPublisher, readyCount } from "./amqp-client.ts";
import { expectation, message, type Expected } from "./generated-messages.ts";
import { useHandlerProcess } from "./running-handler.ts";

// Hostile headers go to a RabbitMQ node of this file's own, never the shared broker: a
// message with a junk x-death that reaches RabbitMQ 3.10's own dead-lettering (as it did
// through the delivery limit while the handler crashed on it) crashes the node's
// dead-letter worker for every quorum queue on it.
let broker: PrivateBroker;
beforeAll(async () => {
  broker = await startPrivateBroker();
}, 90_000);
afterAll(async () => {
  await broker?.destroy();
});

const REASON = "x-switchyard-reason";
// Both handlers declare the same queue on the node's default vhost, one after the other:
// queue arguments must match.
const DELIVERY_LIMIT = "3";
const json = (id: string) => JSON.stringify({ id, payload: "aGk=" });

describe("handler process fed AMQP messages with hostile headers", () => {
  const handler = useHandlerProcess(() => ({
    AMQP_URL: broker.url,
    AMQP_DELIVERY_LIMIT: DELIVERY_LIMIT,
    MAX_PAYLOAD_BYTES: "1024",
    AMQP_PREFETCH: "16",
    SHUTDOWN_GRACE_MS: "3000",
  }));

  it("handles a message whose x-death header is not an array, and its neighbours, and stays up", async () => {
    const client = await rawPublisher(broker.url);
    for (let index = 0; index < 8; index++) {
      const headers = index === 3 ? { "x-death": "junk" } : {};
      await client.publish(json(`xdeath-${index}`), { contentType: "application/json", messageId: `xdeath-${index}`, headers });
    }
    await client.close();
    await eventually(async () => (await handledCount(handler().httpUrl, "amqp", "ok")) === 8);
    expect(handler().child.exitCode).toBeNull();
    expect(await amqpCounts(handler().httpUrl)).toMatchObject({ ok: 8, duplicate: 0, failed: 0, dead_lettered: 0 });
    expect(await readyCount(broker.url, "switchyard.work")).toBe(0);
    expect(await drainQueue(broker.url, "switchyard.work.dead")).toEqual([]);
  });

  it("handles valid bodies whatever their headers: junk x-death records, delivery counts, forged library headers, 60 KB values", async () => {
    const before = await handledCount(handler().httpUrl, "amqp", "ok");
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
    const client = await rawPublisher(broker.url);
    for (const [index, headers] of hostile.entries()) {
      await client.publish(json(`hostile-${index}`), { contentType: "application/json", messageId: `hostile-${index}`, headers });
    }
    await client.close();
    await eventually(async () => (await handledCount(handler().httpUrl, "amqp", "ok")) === before + hostile.length);
    expect(handler().child.exitCode).toBeNull();
    expect(await readyCount(broker.url, "switchyard.work")).toBe(0);
    expect(await drainQueue(broker.url, "switchyard.work.dead")).toEqual([]);
  });

  it("dead-letters a body over the size limit before decoding it, counted invalid, with the reason", async () => {
    const invalidBefore = await handledCount(handler().httpUrl, "amqp", "invalid");
    const client = await rawPublisher(broker.url);
    // Valid protobuf JSON whose payload is far over MAX_PAYLOAD_BYTES: decoding it would
    // be the first thing to reject it, after holding the decoded copy in memory.
    const oversize = JSON.stringify({ id: "oversize", payload: Buffer.alloc(300_000).toString("base64") });
    await client.publish(oversize, { contentType: "application/json", messageId: "oversize" });
    await client.close();
    await eventually(async () => (await handledCount(handler().httpUrl, "amqp", "dead_lettered")) === 1);
    const dead = await drainQueue(broker.url, "switchyard.work.dead");
    expect(dead.map((entry) => entry.messageId)).toEqual(["oversize"]);
    expect(dead[0]?.headers[REASON]).toMatch(/^body is \d{6} bytes, over the limit of \d+ bytes for MAX_PAYLOAD_BYTES=1024$/);
    expect(await handledCount(handler().httpUrl, "amqp", "invalid")).toBe(invalidBefore + 1);
    expect(handler().child.exitCode).toBeNull();
  });
});

describe("handler process whose handling always fails, fed a forged x-delivery-count", () => {
  const handler = useHandlerProcess(() => ({
    AMQP_URL: broker.url,
    AMQP_DELIVERY_LIMIT: DELIVERY_LIMIT,
    SIMULATED_FAILURE_RATIO: "1",
    SHUTDOWN_GRACE_MS: "3000",
  }));

  it("still gives the message every delivery the queue allows: the header counts only on a redelivery", async () => {
    await drainQueue(broker.url, "switchyard.work.dead"); // what earlier tests left
    const client = await rawPublisher(broker.url);
    await client.publish(json("forged-count"), { contentType: "application/json", messageId: "forged-count", headers: { "x-delivery-count": 1000 } });
    await client.close();
    await eventually(async () => (await handledCount(handler().httpUrl, "amqp", "dead_lettered")) === 1);
    expect(await handledCount(handler().httpUrl, "amqp", "failed")).toBe(Number(DELIVERY_LIMIT));
    const dead = await drainQueue(broker.url, "switchyard.work.dead");
    expect(dead.map((entry) => entry.headers[REASON])).toEqual([
      `handling failed on delivery ${DELIVERY_LIMIT} of ${DELIVERY_LIMIT}: simulated handling failure`,
    ]);
  });
});

describe("handler process fed generated AMQP messages (property)", () => {
  const MAX_PAYLOAD_BYTES = 512;
  const handler = useHandlerProcess(() => ({
    AMQP_URL: broker.url,
    AMQP_DELIVERY_LIMIT: DELIVERY_LIMIT,
    MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES),
    AMQP_PREFETCH: "8",
    SIMULATED_FAILURE_RATIO: "0.25",
    SHUTDOWN_GRACE_MS: "3000",
  }));
  let run = 0;

  it("stays up, and ends every message handled or dead-lettered with a reason, none twice", async () => {
    const { httpUrl, child } = handler();
    await drainQueue(broker.url, "switchyard.work.dead"); // what earlier tests left
    const client = await rawPublisher(broker.url);
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(message(MAX_PAYLOAD_BYTES), { minLength: 1, maxLength: 20 }), async (batch) => {
          run++;
          const before = await amqpCounts(httpUrl);
          const expected = new Map<string, Expected>();
          for (const [index, { body, properties }] of batch.entries()) {
            const messageId = `r${run}-m${index}`;
            expected.set(messageId, expectation(body, properties.contentType));
            await client.publish(body.body(messageId), { ...(properties as Options.Publish), messageId });
          }
          // Every message ends counted once: ok or duplicate when handled, dead_lettered when not.
          const settled = async () => {
            const now = await amqpCounts(httpUrl);
            const delta = (outcome: string) => now[outcome]! - before[outcome]!;
            return delta("ok") + delta("duplicate") + delta("dead_lettered") === batch.length ? now : undefined;
          };
          // eventually resolves only with a truthy value.
          const after = (await eventually(settled, 30_000, 100))!;
          const dead = await drainQueue(broker.url, "switchyard.work.dead", batch.length + 1);
          const deadIds = dead.map((entry) => entry.messageId ?? "");
          expect(new Set(deadIds).size).toBe(deadIds.length); // none twice
          expect(dead.length).toBe(after.dead_lettered! - before.dead_lettered!);
          for (const entry of dead) {
            const id = entry.messageId ?? "";
            const reason = entry.headers[REASON];
            expect(expected.has(id), `unknown dead letter ${id}`).toBe(true);
            expect(typeof reason === "string" && reason.length > 0, `${id} has a reason`).toBe(true);
            // A message that should be handled reaches the DLQ only when handling kept failing.
            if (expected.get(id) === "handled") expect(reason).toMatch(new RegExp(`^handling failed on delivery ${DELIVERY_LIMIT} of ${DELIVERY_LIMIT}: `));
          }
          for (const [id, outcome] of expected) {
            if (outcome === "dead") expect(deadIds, `${id} dead-lettered`).toContain(id);
          }
          expect(child.exitCode).toBeNull();
        }),
        // PROPERTY_RUNS=500 for a longer hunt; failures print the seed and the batch.
        { numRuns: Number(process.env.PROPERTY_RUNS ?? 25), endOnFailure: true },
      );
    } finally {
      await client.close();
    }
    expect(await readyCount(broker.url, "switchyard.work")).toBe(0);
    expect(child.exitCode).toBeNull();
  }, 600_000);
});
