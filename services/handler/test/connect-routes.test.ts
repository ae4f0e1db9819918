import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { HandlerService, WorkSchema } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { handlerRoutes } from "../src/transports/connect.ts";
import { handledCount, work, workHandler } from "./support.ts";

function client(options: Parameters<typeof workHandler>[0] = {}) {
  const deps = workHandler(options);
  const transport = createRouterTransport(handlerRoutes(deps));
  return { ...deps, client: createClient(HandlerService, transport) };
}

async function codeOf(promise: Promise<unknown>): Promise<Code | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

describe("HandlerService routes (in memory)", () => {
  it("returns the receipt for a handled work", async () => {
    const { client: handler } = client();
    const { receipt } = await handler.handle({ work: work({ id: "r1" }) });
    expect(receipt).toMatchObject({ workId: "r1", duplicate: false });
  });

  it("answers invalid_argument naming the field for missing work, missing id, oversized payload", async () => {
    const { client: handler, registry } = client({ maxPayloadBytes: 4 });
    await expect(handler.handle({})).rejects.toThrow(/work\.id is required/);
    expect(await codeOf(handler.handle({ work: create(WorkSchema, {}) }))).toBe(Code.InvalidArgument);
    const oversized = handler.handle({ work: work({ payload: new Uint8Array(5) }) });
    await expect(oversized).rejects.toThrow(/work\.payload is 5 bytes/);
    expect(await codeOf(handler.handle({ work: work({ payload: new Uint8Array(5) }) }))).toBe(Code.InvalidArgument);
    expect(await handledCount(registry, "connect_proto", "invalid")).toBeGreaterThan(0);
  });

  it("answers deadline_exceeded when the caller's deadline is shorter than the simulated cost", async () => {
    const { client: handler, registry } = client({ cost: { delayMs: 2_000 } });
    expect(await codeOf(handler.handle({ work: work() }, { timeoutMs: 50 }))).toBe(Code.DeadlineExceeded);
    expect(await handledCount(registry, "connect_proto", "ok")).toBe(0);
  });

  it("answers unavailable for a failed handling, which a retry may fix", async () => {
    const { client: handler } = client({ cost: { failureRatio: 1 } });
    expect(await codeOf(handler.handle({ work: work() }))).toBe(Code.Unavailable);
  });
});
