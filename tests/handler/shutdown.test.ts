import { create, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { HandlerService, WorkSchema } from "@switchyard/contracts";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestVhost, eventually, management, type TestVhost } from "../support/broker.ts";
import { startService } from "../support/process.ts";
import { startHandler } from "./running-handler.ts";

let vhost: TestVhost;
beforeAll(async () => {
  vhost = await createTestVhost();
});
afterAll(async () => vhost?.delete());

/** Every sequence in 1..n that `ranges` cover, as a Set. */
function covered(ranges: Array<{ first: number; last: number }> | undefined): Set<number> {
  const set = new Set<number>();
  for (const { first, last } of ranges ?? []) for (let n = first; n <= last; n++) set.add(n);
  return set;
}

describe("graceful shutdown during a steady AMQP stream", () => {
  it("loses nothing: every confirmed message is handled exactly once across the old and the new instance", async () => {
    const total = 1500;
    const producerId = "shutdown-stream";
    // 2 ms of simulated work per message keeps a prefetch window of messages in flight.
    const env = { AMQP_URL: vhost.url, SIMULATED_DELAY_MS: "2", AMQP_PREFETCH: "32", SHUTDOWN_GRACE_MS: "10000" };
    const first = await startHandler(env);
    await eventually(() => first.app.readiness.ready);

    const connection = await amqp.connect(vhost.url);
    const channel = await connection.createConfirmChannel();
    let closing: Promise<void> | undefined;
    for (let sequence = 1; sequence <= total; sequence++) {
      const work = create(WorkSchema, { id: `${producerId}-${sequence}`, producerId, sequence: BigInt(sequence), sentAt: timestampNow() });
      channel.publish("switchyard.work", "work", Buffer.from(toBinary(WorkSchema, work)), {
        contentType: "application/x-protobuf",
        persistent: true,
      });
      if (sequence % 50 === 0) await channel.waitForConfirms();
      // Shut down a third of the way in, while the stream goes on.
      if (sequence === 500) closing = first.close();
    }
    await channel.waitForConfirms();
    await connection.close();
    await closing;
    const handledByFirst = covered(first.app.ledger.get(producerId)?.ranges);
    expect(handledByFirst.size).toBeGreaterThan(0);
    expect(handledByFirst.size).toBeLessThan(total);

    const second = await startHandler(env);
    await eventually(() => (second.app.ledger.get(producerId)?.handled ?? 0) + handledByFirst.size >= total, 60_000, 200);
    const handledBySecond = covered(second.app.ledger.get(producerId)?.ranges);
    await second.close();

    const missing = [...Array(total).keys()].map((i) => i + 1).filter((n) => !handledByFirst.has(n) && !handledBySecond.has(n));
    const twice = [...handledByFirst].filter((n) => handledBySecond.has(n));
    expect(missing).toEqual([]);
    // In-flight messages were settled before the channel closed, so none came back.
    expect(twice).toEqual([]);
    expect(first.app.ledger.get(producerId)?.duplicates).toBe(0);
  }, 120_000);
});

describe("SIGTERM to a handler process", () => {
  it("finishes the RPC in flight, then exits 0 within its grace period", async () => {
    const handler = await startService("handler", { AMQP_URL: vhost.url, SIMULATED_DELAY_MS: "800", SHUTDOWN_GRACE_MS: "5000" });
    await eventually(async () => (await fetch(`${handler.httpUrl}/readyz`)).status === 200);
    const client = createClient(HandlerService, createConnectTransport({ baseUrl: handler.httpUrl, httpVersion: "1.1" }));
    const inFlight = client.handle({ work: { id: "in-flight-at-sigterm" } }, { timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    const exited = handler.stop("SIGTERM");
    expect((await inFlight).receipt?.workId).toBe("in-flight-at-sigterm");
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    const messages = handler.lines.map((line) => (JSON.parse(line) as { msg?: string }).msg);
    expect(messages).toContain("shutting down");
    expect(messages.at(-1)).toBe("shutdown complete");
  }, 30_000);
});

describe("SIGTERM to a handler whose broker is gone", () => {
  it("still exits 0 within its grace period", async () => {
    const doomed = await createTestVhost();
    const handler = await startService("handler", { AMQP_URL: doomed.url, SHUTDOWN_GRACE_MS: "3000" });
    await eventually(async () => (await fetch(`${handler.httpUrl}/readyz`)).status === 200);
    // Deleting the vhost closes the handler's connection from the broker's side.
    await management(`/vhosts/${encodeURIComponent(doomed.name)}`, { method: "DELETE" });
    await eventually(async () => (await fetch(`${handler.httpUrl}/readyz`)).status === 503);
    // Let Rascal get into its reconnect loop against the missing vhost.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const started = Date.now();
    expect(await handler.stop("SIGTERM")).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
  }, 30_000);
});
