// Protobuf JSON strings must be valid UTF-8. A decoder that replaces bad bytes with
// U+FFFD would turn distinct ids into one, and the second would be answered as a
// duplicate and never handled; the AMQP path already refuses such a body.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startService, type ServiceProcess } from "../support/process.ts";
import { closedPort } from "../producer/support.ts";

describe("Connect JSON with invalid UTF-8", () => {
  let handler: ServiceProcess;

  beforeAll(async () => {
    // No broker needed: the RPC transports serve without one.
    handler = await startService("handler", { AMQP_URL: `amqp://guest:guest@127.0.0.1:${await closedPort()}/`, SHUTDOWN_GRACE_MS: "3000" });
  });
  afterAll(async () => {
    await handler?.stop();
  });

  /** POSTs raw bytes to Handle as Connect JSON over HTTP/1.1. */
  const post = async (body: Buffer) => {
    const response = await fetch(`${handler.httpUrl}/switchyard.v1.HandlerService/Handle`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };
  /** `{"work":{"id":"<prefix><bytes>"}}` with `bytes` spliced in raw. */
  const workWithId = (prefix: string, bytes: number[]) =>
    Buffer.concat([Buffer.from(`{"work":{"id":"${prefix}`), Buffer.from(bytes), Buffer.from('"}}')]);
  const handledOk = async () => {
    const metrics = await (await fetch(`${handler.httpUrl}/metrics`)).text();
    return Number(/switchyard_handler_messages_total\{transport="connect",outcome="ok"\} (\d+)/.exec(metrics)?.[1]);
  };

  it.each([
    ["a lone continuation byte", [0x80]],
    ["a byte that never occurs in UTF-8", [0xff]],
    ["a truncated sequence", [0xe2, 0x82]],
    ["an overlong encoding", [0xc0, 0xaf]],
    ["an encoded UTF-16 surrogate", [0xed, 0xa0, 0x80]],
  ])("refuses %s with invalid_argument, handling nothing", async (_case, bytes) => {
    const before = await handledOk();
    const { status, json } = await post(workWithId("bad-", bytes));
    expect(status).toBe(400);
    expect(json).toEqual({ code: "invalid_argument", message: "request body is not valid UTF-8" });
    expect(await handledOk()).toBe(before);
  });

  it("keeps ids that differ only in invalid bytes apart: neither is handled, nor blocks the valid id", async () => {
    const first = await post(workWithId("twin-", [0xfe]));
    const second = await post(workWithId("twin-", [0xff]));
    expect([first.json.code, second.json.code]).toEqual(["invalid_argument", "invalid_argument"]);
    // The replacement character is valid UTF-8: "twin-\uFFFD" is an id like any other,
    // handled once, not a duplicate of the refused bodies.
    const replacement = await post(Buffer.from('{"work":{"id":"twin-\uFFFD"}}'));
    expect(replacement.status).toBe(200);
    expect(replacement.json).toMatchObject({ receipt: { workId: "twin-\uFFFD" } });
    expect(replacement.json.receipt).not.toHaveProperty("duplicate");
  });
});
