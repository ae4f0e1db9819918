import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { RunSpecSchema } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { resolveSpec, SpecError, specToProto } from "../src/spec.ts";

const context = { maxPayloadBytes: 1024 * 1024, sendTimeoutMs: 5_000 };

function fieldOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof SpecError) return error.field;
    throw error;
  }
  return undefined;
}

describe("resolveSpec", () => {
  it("fills every default", () => {
    expect(resolveSpec(undefined, context)).toEqual({
      transports: ["grpc", "connect", "amqp"],
      payloadBytes: [64],
      load: { mode: "closed", concurrency: 32 },
      end: { kind: "duration", ms: 5_000 },
      warmupMs: 1_000,
      sendTimeoutMs: 5_000,
    });
  });

  it("keeps what was asked for", () => {
    const spec = create(RunSpecSchema, {
      transports: ["amqp", "grpc"],
      payloadBytes: [0, 16384],
      load: { case: "rate", value: 250.5 },
      end: { case: "messages", value: 1000n },
      warmup: durationFromMs(0),
      sendTimeout: durationFromMs(1500),
    });
    const resolved = resolveSpec(spec, context);
    expect(resolved).toEqual({
      transports: ["amqp", "grpc"],
      payloadBytes: [0, 16384],
      load: { mode: "open", rate: 250.5 },
      end: { kind: "messages", count: 1000 },
      warmupMs: 0,
      sendTimeoutMs: 1500,
    });
    expect(resolveSpec(specToProto(resolved), context)).toEqual(resolved);
  });

  it.each([
    ["unknown transport", { transports: ["grpc", "http"] }, "transports"],
    ["repeated transport", { transports: ["grpc", "grpc"] }, "transports"],
    ["payload over the handler's limit", { payloadBytes: [64, 1024 * 1024 + 1] }, "payload_bytes"],
    ["rate of zero", { load: { case: "rate", value: 0 } }, "rate"],
    ["negative rate", { load: { case: "rate", value: -5 } }, "rate"],
    ["rate that is not a number", { load: { case: "rate", value: Number.NaN } }, "rate"],
    ["concurrency of zero", { load: { case: "concurrency", value: 0 } }, "concurrency"],
    ["zero duration", { end: { case: "duration", value: durationFromMs(0) } }, "duration"],
    ["zero messages", { end: { case: "messages", value: 0n } }, "messages"],
    ["negative warm-up", { warmup: { seconds: -1n, nanos: 0 } }, "warmup"],
    ["zero send timeout", { sendTimeout: durationFromMs(0) }, "send_timeout"],
  ] as const)("refuses a %s, naming the field", (_, init, field) => {
    const spec = create(RunSpecSchema, init as never);
    expect(fieldOf(() => resolveSpec(spec, context))).toBe(field);
  });

  it("says what is wrong and what was given", () => {
    expect(() => resolveSpec(create(RunSpecSchema, { load: { case: "rate", value: 0 } }), context)).toThrow(
      "rate must be a number of messages/s greater than 0 and at most 1000000 (got 0)",
    );
    expect(() => resolveSpec(create(RunSpecSchema, { payloadBytes: [2_000_000] }), context)).toThrow(
      "payload_bytes must be at most the handler's limit of 1048576 bytes (got 2000000)",
    );
  });
});
