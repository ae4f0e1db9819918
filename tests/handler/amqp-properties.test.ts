import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { WorkSchema } from "@switchyard/contracts";
import type { Options } from "amqplib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { eventually, queueCounts, takeMessages } from "../support/broker.ts";
import { amqpCounts, rawPublisher } from "./amqp-client.ts";
import { useHandlerProcessOnOwnVhost } from "./running-handler.ts";

const MAX_PAYLOAD_BYTES = 512;
const DELIVERY_LIMIT = 3;
const REASON = "x-switchyard-reason";

/** What a generated message must end as: handled (or dead-lettered because handling kept failing), dead-lettered, or either. */
type Expected = "handled" | "dead" | "either";

interface Generated {
  /** Builds the body; `id` makes the Work (if any) unique across runs. */
  body: (id: string) => Uint8Array;
  kind: "json" | "binary" | "other";
  expected: Expected;
}

const work = (id: string, payload: Uint8Array, attributes: Record<string, string>) =>
  create(WorkSchema, { id, producerId: "property-test", payload, attributes });

const attributes = fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 24 }), { maxKeys: 4 });
const smallPayload = fc.uint8Array({ maxLength: MAX_PAYLOAD_BYTES });

/** Bodies of every kind: valid Work in both encodings, invalid Work, oversize, random bytes, text. */
const bodies: fc.Arbitrary<Generated> = fc.oneof(
  fc.record({ payload: smallPayload, attributes }).map(({ payload, attributes }) => ({
    body: (id: string) => new TextEncoder().encode(toJsonString(WorkSchema, work(id, payload, attributes))),
    kind: "json" as const,
    expected: "handled" as const,
  })),
  fc.record({ payload: smallPayload, attributes }).map(({ payload, attributes }) => ({
    body: (id: string) => toBinary(WorkSchema, work(id, payload, attributes)),
    kind: "binary" as const,
    expected: "handled" as const,
  })),
  // Decodes, but is invalid: no id, or a payload over the limit.
  fc.constantFrom<Generated>(
    { body: () => new TextEncoder().encode('{"payload":"aGk="}'), kind: "json", expected: "dead" },
    { body: (id) => toBinary(WorkSchema, work(id, new Uint8Array(MAX_PAYLOAD_BYTES + 1), {})), kind: "binary", expected: "dead" },
  ),
  // Over the body limit (MAX_PAYLOAD_BYTES as base64 plus 64 KiB), whatever it holds.
  fc.integer({ min: 70_000, max: 120_000 }).map((size) => ({
    body: () => new Uint8Array(size).fill(0x7b),
    kind: "other" as const,
    expected: "dead" as const,
  })),
  fc.uint8Array({ maxLength: 256 }).map((bytes) => ({ body: () => bytes, kind: "other" as const, expected: "either" as const })),
  fc.string({ maxLength: 64 }).map((text) => ({
    body: () => new TextEncoder().encode(text),
    kind: "other" as const,
    expected: "either" as const,
  })),
);

/** A content type: the ones the handler knows, none, and anything else. */
const contentTypes = fc.oneof(
  fc.constantFrom("application/json", "application/json; charset=utf-8", "application/x-protobuf", "application/octet-stream", undefined),
  fc.constantFrom("text/csv", "APPLICATION/JSON", "application/protobuf+json"),
  fc.string({ maxLength: 40 }),
);

/**
 * Header values of the AMQP table types amqplib encodes (strings, integers, doubles,
 * booleans, void, byte arrays, arrays and nested tables), nested a little. Numbers stay
 * inside what amqplib can encode: it sends an integral double as a 64-bit integer.
 */
const scalar = fc.oneof(
  fc.string({ maxLength: 32 }),
  fc.integer(),
  fc.double({ min: -1e15, max: 1e15, noNaN: true }),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 32 }).map((bytes) => Buffer.from(bytes)),
);
const headerValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(scalar, fc.array(scalar, { maxLength: 3 })), { maxKeys: 4 }) },
);

/** Headers: random names, plus the ones RabbitMQ and client libraries give meaning to. */
const headers = fc.record(
  {
    random: fc.dictionary(fc.string({ maxLength: 16 }), headerValue, { maxKeys: 5 }),
    "x-death": headerValue,
    "x-delivery-count": headerValue,
    "x-first-death-reason": headerValue,
    rascal: headerValue,
    [REASON]: headerValue,
  },
  { requiredKeys: ["random"] },
).map(({ random, ...named }) => ({ ...random, ...named }) as Record<string, unknown>);

const shortText = fc.string({ maxLength: 40 });

/** Publish properties (never `expiration`: the broker itself dead-letters an expired message, with no reason of ours). */
const properties = fc.record(
  {
    contentType: contentTypes,
    contentEncoding: shortText,
    correlationId: shortText,
    type: shortText,
    appId: shortText,
    timestamp: fc.nat(),
    priority: fc.integer({ min: 0, max: 9 }),
    deliveryMode: fc.constantFrom(1, 2),
    headers,
  },
  { requiredKeys: [] },
);

const message = fc.record({ body: bodies, properties });

/** What the handler must do with `generated` sent with `contentType`. */
function expectation(generated: Generated, contentType: string | undefined): Expected {
  if (generated.expected !== "handled") return generated.expected;
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  const json = ["application/json", "application/protobuf+json"].includes(type);
  const binary = ["", "application/x-protobuf", "application/protobuf", "application/vnd.google.protobuf", "application/octet-stream"].includes(type);
  if ((generated.kind === "json" && json) || (generated.kind === "binary" && binary)) return "handled";
  // A known type that does not match the body: one encoding read as the other may decode.
  return json || binary ? "either" : "dead";
}

describe("handler fed generated AMQP messages (property)", () => {
  const fixture = useHandlerProcessOnOwnVhost({
    MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES),
    AMQP_PREFETCH: "8",
    AMQP_DELIVERY_LIMIT: String(DELIVERY_LIMIT),
    SIMULATED_FAILURE_RATIO: "0.25",
    SHUTDOWN_GRACE_MS: "3000",
  });
  let run = 0;

  it("stays up, and ends every message handled or dead-lettered with a reason, none twice", async () => {
    const { handler, vhost } = fixture();
    const client = await rawPublisher(vhost.url);
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 20 }), async (batch) => {
          run++;
          const before = await amqpCounts(handler.httpUrl);
          const expected = new Map<string, Expected>();
          for (const [index, { body, properties }] of batch.entries()) {
            const messageId = `r${run}-m${index}`;
            expected.set(messageId, expectation(body, properties.contentType));
            await client.publish(body.body(messageId), { ...(properties as Options.Publish), messageId });
          }
          // Every message ends counted once: ok or duplicate when handled, dead_lettered when not.
          const settled = async () => {
            const now = await amqpCounts(handler.httpUrl);
            const delta = (outcome: string) => now[outcome]! - before[outcome]!;
            return delta("ok") + delta("duplicate") + delta("dead_lettered") === batch.length ? now : undefined;
          };
          // eventually resolves only with a truthy value.
          const after = (await eventually(settled, 30_000, 100))!;
          const dead = await takeMessages(vhost.name, "switchyard.work.dead", batch.length + 1);
          const deadIds = dead.map((entry) => entry.properties.message_id ?? "");
          expect(new Set(deadIds).size).toBe(deadIds.length); // none twice
          expect(dead.length).toBe(after.dead_lettered! - before.dead_lettered!);
          for (const entry of dead) {
            const id = entry.properties.message_id ?? "";
            const reason = entry.properties.headers?.[REASON];
            expect(expected.has(id), `unknown dead letter ${id}`).toBe(true);
            expect(typeof reason === "string" && reason.length > 0, `${id} has a reason`).toBe(true);
            // A message that should be handled reaches the DLQ only when handling kept failing.
            if (expected.get(id) === "handled") expect(reason).toMatch(`^handling failed on delivery ${DELIVERY_LIMIT} of ${DELIVERY_LIMIT}: `);
          }
          for (const [id, outcome] of expected) {
            if (outcome === "dead") expect(deadIds, `${id} dead-lettered`).toContain(id);
          }
          expect(handler.child.exitCode).toBeNull();
        }),
        { numRuns: 25, endOnFailure: true },
      );
    } finally {
      await client.close();
    }
    await eventually(async () => {
      const counts = await queueCounts(vhost.name, "switchyard.work");
      return counts.ready === 0 && counts.unacked === 0;
    });
    expect(handler.child.exitCode).toBeNull();
  }, 240_000);
});
