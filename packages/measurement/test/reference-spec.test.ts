import { create } from "@bufbuild/protobuf";
import { RunSpecSchema } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { resolveSpec } from "../src/spec.ts";

const context = { maxPayloadBytes: 1024 * 1024, sendTimeoutMs: 5_000 };
const spec = (transports: string[]) => create(RunSpecSchema, { transports });

describe("resolveSpec and the reference transports", () => {
  it("accepts grpc_js, http_json and amqplib as transports of their own", () => {
    expect(resolveSpec(spec(["grpc", "grpc_js", "connect", "http_json", "amqp", "amqplib"]), context).transports).toHaveLength(6);
  });

  it("keeps the three as the default: reference phases are asked for", () => {
    expect(resolveSpec(spec([]), { ...context, available: ["grpc", "connect", "amqp", "grpc_js"] }).transports).toEqual(["grpc", "connect", "amqp"]);
  });

  it("refuses a transport the producer has no sender for, naming it and what turns it on", () => {
    expect(() => resolveSpec(spec(["grpc", "grpc_js"]), { ...context, available: ["grpc", "connect", "amqp"] })).toThrow(
      "transports has grpc_js, which this producer is not configured to send over (a reference transport needs its REFERENCE_* setting; compare --reference sets them)",
    );
  });
});
