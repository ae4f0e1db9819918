import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { WorkSchema } from "@switchyard/contracts";
import fc from "fast-check";
import { maxBodyBytes } from "../../services/handler/src/transports/amqp-body.ts";

// Generators for the property test in amqp-hostile.test.ts: AMQP messages whose body,
// content type, properties and headers are anything a publisher could send.

/** What a generated message must end as: handled (or dead-lettered because handling kept failing), dead-lettered, or either. */
export type Expected = "handled" | "dead" | "either";

/** A generated body and what must become of it. */
export interface Generated {
  /** Builds the body; `id` makes the Work (if any) unique across runs. */
  body: (id: string) => Uint8Array;
  /** The encoding the body is in, if it is a Work at all. */
  kind: "json" | "binary" | "other";
  expected: Expected;
}

const work = (id: string, payload: Uint8Array, attributes: Record<string, string>) =>
  create(WorkSchema, { id, producerId: "property-test", payload, attributes });

const attributes = fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 24 }), { maxKeys: 4 });

/** Bodies of every kind: valid Work in both encodings, invalid Work, oversize, random bytes, text. */
const bodies = (maxPayloadBytes: number): fc.Arbitrary<Generated> => {
  const smallPayload = fc.uint8Array({ maxLength: maxPayloadBytes });
  return fc.oneof(
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
      { body: (id) => toBinary(WorkSchema, work(id, new Uint8Array(maxPayloadBytes + 1), {})), kind: "binary", expected: "dead" },
    ),
    // Over the body limit (MAX_PAYLOAD_BYTES as base64 plus 64 KiB), whatever it holds.
    fc.integer({ min: maxBodyBytes(maxPayloadBytes) + 1, max: maxBodyBytes(maxPayloadBytes) + 50_000 }).map((size) => ({
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
};

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
  {
    weight: 1,
    // No key "!": amqplib reads a table holding one as an explicitly typed value ({"!": type, value}).
    arbitrary: fc.dictionary(
      fc.string({ maxLength: 8 }).filter((key) => key !== "!"),
      fc.oneof(scalar, fc.array(scalar, { maxLength: 3 })),
      { maxKeys: 4 },
    ),
  },
);

/** Headers: random names, plus the ones RabbitMQ and client libraries give meaning to. */
const headers = fc.record(
  {
    random: fc.dictionary(fc.string({ maxLength: 16 }), headerValue, { maxKeys: 5 }),
    "x-death": headerValue,
    "x-delivery-count": headerValue,
    "x-first-death-reason": headerValue,
    rascal: headerValue,
    "x-switchyard-reason": headerValue,
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

/** One generated message: a body (with what must become of it) and publish properties. */
export const message = (maxPayloadBytes: number) => fc.record({ body: bodies(maxPayloadBytes), properties });

/** What the handler must do with `generated` sent with `contentType`. */
export function expectation(generated: Generated, contentType: string | undefined): Expected {
  if (generated.expected !== "handled") return generated.expected;
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  const json = ["application/json", "application/protobuf+json"].includes(type);
  const binary = ["", "application/x-protobuf", "application/protobuf", "application/vnd.google.protobuf", "application/octet-stream"].includes(type);
  if ((generated.kind === "json" && json) || (generated.kind === "binary" && binary)) return "handled";
  // A known type that does not match the body: one encoding read as the other may decode.
  return json || binary ? "either" : "dead";
}

