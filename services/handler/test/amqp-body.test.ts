import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { WorkSchema } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { decodeWorkBody } from "../src/transports/amqp-body.ts";

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
