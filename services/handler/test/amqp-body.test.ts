import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { WorkSchema } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { BodyTooLargeError, checkBodySize, decodeWorkBody, maxBodyBytes } from "../src/transports/amqp-body.ts";

const work = create(WorkSchema, { id: "b1", sequence: 3n, payload: new Uint8Array([1, 2, 3]) });

describe("decodeWorkBody", () => {
  it("decodes binary protobuf by content type, and when none is given", () => {
    const body = toBinary(WorkSchema, work);
    expect(decodeWorkBody(body, "application/x-protobuf").id).toBe("b1");
    expect(decodeWorkBody(body, "application/protobuf").sequence).toBe(3n);
    expect(decodeWorkBody(body, undefined).payload).toEqual(new Uint8Array([1, 2, 3]));
  });

  it("decodes protobuf JSON, ignoring content-type parameters", () => {
    const body = new TextEncoder().encode(toJsonString(WorkSchema, work));
    expect(decodeWorkBody(body, "application/json; charset=utf-8").id).toBe("b1");
    const handWritten = new TextEncoder().encode('{"id":"h1","payload":"aGk=","attributes":{"k":"v"}}');
    expect(decodeWorkBody(handWritten, "application/json").attributes).toEqual({ k: "v" });
  });

  it("rejects malformed JSON, unknown fields and invalid UTF-8", () => {
    const encode = (text: string) => new TextEncoder().encode(text);
    expect(() => decodeWorkBody(encode("not json"), "application/json")).toThrow(/JSON/);
    expect(() => decodeWorkBody(encode('{"nope":1}'), "application/json")).toThrow(/nope/);
    expect(() => decodeWorkBody(new Uint8Array([0xff, 0xfe]), "application/json")).toThrow();
  });

  it("rejects undecodable binary and unsupported content types", () => {
    expect(() => decodeWorkBody(new Uint8Array([0x0a, 0xff, 0xff, 0xff]), "application/x-protobuf")).toThrow();
    expect(() => decodeWorkBody(new Uint8Array(), "text/csv")).toThrow(/unsupported content_type "text\/csv"/);
  });
});

describe("checkBodySize", () => {
  it("allows a payload of the limit in either encoding, and refuses more before any decoding", () => {
    const payload = new Uint8Array(3000);
    const asJson = new TextEncoder().encode(toJsonString(WorkSchema, create(WorkSchema, { id: "x".repeat(256), payload })));
    expect(() => checkBodySize(asJson, 3000)).not.toThrow();
    expect(() => checkBodySize(toBinary(WorkSchema, create(WorkSchema, { id: "b", payload })), 3000)).not.toThrow();
    const limit = maxBodyBytes(3000);
    expect(limit).toBe(4000 + 64 * 1024);
    expect(() => checkBodySize(new Uint8Array(limit), 3000)).not.toThrow();
    expect(() => checkBodySize(new Uint8Array(limit + 1), 3000)).toThrow(BodyTooLargeError);
    expect(() => checkBodySize(new Uint8Array(limit + 1), 3000)).toThrow(
      `body is ${limit + 1} bytes, over the limit of ${limit} bytes for MAX_PAYLOAD_BYTES=3000`,
    );
  });
});
