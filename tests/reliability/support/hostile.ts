import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { WorkSchema } from "@switchyard/contracts";
import type { Options } from "amqplib";
import { workFor } from "./work.ts";

/** One hostile AMQP message: a body and the publish properties that go with it. */
export interface HostileMessage {
  /** What is hostile about it, for failure messages. */
  what: string;
  body: Buffer;
  properties: Options.Publish;
  /** Whether the body is a valid Work of the hostile run (so handling it is right too). */
  validWork: boolean;
}

/**
 * The hostile messages of the suite, numbered 1..n within the hostile run `runId`; each
 * carries `message_id` `<runId>-<n>` so the dead-letter queue can be matched against
 * them. Headers of the wrong type, size or shape on valid bodies; bodies that are too
 * big, undecodable or in the wrong encoding for their content type; no properties.
 */
export function hostileMessages(runId: string): HostileMessage[] {
  const id = (n: number) => `${runId}-${n}`;
  const valid = (n: number) => Buffer.from(toBinary(WorkSchema, workFor(runId, n)));
  const json = (n: number) => Buffer.from(toJsonString(WorkSchema, workFor(runId, n)));
  const specs: Array<Omit<HostileMessage, "properties"> & { properties?: Options.Publish }> = [];
  const add = (what: string, body: Buffer, validWork: boolean, properties: Options.Publish = {}) => {
    specs.push({ what, body, validWork, properties });
  };
  const binary = { contentType: "application/x-protobuf" };
  add("x-death is a string", valid(1), true, { ...binary, headers: { "x-death": "junk" } });
  add("x-death is a number", valid(2), true, { ...binary, headers: { "x-death": 42 } });
  add("x-death is a table", valid(3), true, { ...binary, headers: { "x-death": { queue: "switchyard.work" } } });
  add("x-death holds null and junk records", valid(4), true, { ...binary, headers: { "x-death": [null, "junk", { count: "x", reason: 7 }] } });
  add("x-delivery-count is not a number", valid(5), true, { ...binary, headers: { "x-delivery-count": "many" } });
  add("60 KB header value", valid(6), true, { ...binary, headers: { "x-junk": "a".repeat(60_000) } });
  add("nested, binary and null headers", valid(7), true, {
    ...binary,
    headers: { nested: { deeper: { list: [1, "two", { three: null }] } }, bytes: Buffer.from([0, 255, 1]), nothing: null },
  });
  add("forged Rascal recovery header", valid(8), true, { ...binary, headers: { rascal: { recovery: { "switchyard.work": { immediateNack: true } } } } });
  add("payload over MAX_PAYLOAD_BYTES (2 MiB)", Buffer.from(toBinary(WorkSchema, create(WorkSchema, { ...workFor(runId, 9), payload: new Uint8Array(2 * 1024 * 1024) }))), false, binary);
  add("16 MiB of random bytes", Buffer.alloc(16 * 1024 * 1024, 0xa5), false, binary);
  add("JSON body labelled text/plain", json(11), false, { contentType: "text/plain" });
  add("binary body labelled application/json", valid(12), false, { contentType: "application/json" });
  add("invalid UTF-8 in a JSON body", Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), false, { contentType: "application/json" });
  add("JSON body without a content type", json(14), false, {});
  add("empty body, no properties", Buffer.alloc(0), false, {});
  add("JSON with a charset parameter", json(16), true, { contentType: "application/json; charset=utf-8" });
  add("truncated protobuf", valid(17).subarray(0, 10), false, binary);
  return specs.map((spec, index) => ({ ...spec, properties: { ...spec.properties, messageId: id(index + 1) } }) as HostileMessage);
}
