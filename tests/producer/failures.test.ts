// What a run does when its peers fail: counted outcomes, a finished run, no crash, no hang.
import { PhaseState, RunState } from "@switchyard/contracts";
import { describe, expect, it } from "vitest";
import { useCleanup } from "../support/cleanup.ts";
import { createTestVhost, management } from "../support/broker.ts";
import { startService } from "../support/process.ts";
import { closedPort, ms, producerClient, untilMeasuring, watchToEnd } from "./support.ts";

const cleanup = useCleanup();

describe("failures during a run", () => {
  it("handler unreachable: every send counted as unavailable, the run completes and says so", async () => {
    const vhost = await createTestVhost("switchyard-unreachable");
    cleanup.push(() => vhost.delete());
    const producer = await startService("producer", {
      AMQP_URL: vhost.url,
      HANDLER_HTTP_URL: `http://127.0.0.1:${await closedPort()}`,
      HANDLER_GRPC_URL: `http://127.0.0.1:${await closedPort()}`,
    });
    cleanup.push(() => producer.stop());
    const client = producerClient(producer.httpUrl);
    const { run: started } = await client.startRun({
      spec: { transports: ["grpc", "connect"], end: { case: "duration", value: ms(500) }, warmup: ms(0), sendTimeout: ms(1000) },
    });
    const run = await watchToEnd(client, started!.id);
    expect(run.state).toBe(RunState.SUCCEEDED);
    for (const phase of run.phases) {
      expect(phase.state).toBe(PhaseState.DONE);
      expect(phase.completed).toBeGreaterThan(0n);
      expect(phase.outcomes).toEqual({ unavailable: phase.completed });
      expect(phase.errors).toBe(phase.completed);
      expect(phase.throughput).toBe(0);
      expect(phase.ledger!.tracked).toBe(false);
      expect(phase.notes).toContain(`handler unreachable over ${phase.transport}: ${phase.completed} sends failed with unavailable`);
      expect(phase.notes).toContain("handler unreachable for ObservationService.GetReceived: ledger not reconciled");
    }
    expect(producer.child.exitCode).toBeNull();
  });

  it("broker gone mid-run: AMQP sends fail within their timeout and are counted; no crash, no hang", async () => {
    const vhost = await createTestVhost("switchyard-broker-down");
    cleanup.push(() => vhost.delete());
    const handler = await startService("handler", { AMQP_URL: vhost.url, SHUTDOWN_GRACE_MS: "3000" });
    // Its broker is gone too; a graceful stop must still end in time and exit 0.
    cleanup.push(async () => expect(await handler.stop()).toBe(0));
    const producer = await startService("producer", {
      AMQP_URL: vhost.url,
      HANDLER_HTTP_URL: handler.httpUrl,
      HANDLER_GRPC_URL: handler.h2cUrl,
    });
    cleanup.push(async () => expect(await producer.stop()).toBe(0));
    const client = producerClient(producer.httpUrl);
    const { run: started } = await client.startRun({
      spec: {
        transports: ["amqp"],
        load: { case: "rate", value: 300 },
        end: { case: "duration", value: ms(3000) },
        warmup: ms(0),
        sendTimeout: ms(1000),
      },
    });
    await untilMeasuring(client, started!.id, 0, 100);
    // Deleting the vhost closes every connection to it and refuses reconnection: for
    // these services the broker is down, while the shared broker keeps serving others.
    await management(`/vhosts/${encodeURIComponent(vhost.name)}`, { method: "DELETE" });

    const began = Date.now();
    const run = await watchToEnd(client, started!.id);
    // Three seconds of sending, one of send timeout, and reconciliation's bounded wait.
    expect(Date.now() - began).toBeLessThan(30_000);
    expect(run.state).toBe(RunState.SUCCEEDED);
    const phase = run.phases[0]!;
    expect(phase.state).toBe(PhaseState.DONE);
    expect(phase.outcomes.ok).toBeGreaterThan(0n);
    expect(phase.errors).toBeGreaterThan(0n);
    // Deleting a vhost removes its queue before its exchange, so a publish caught in
    // between is unroutable and comes back as `returned`.
    const expected = ["ok", "unavailable", "timeout", "nacked", "returned"];
    expect(Object.keys(phase.outcomes).filter((code) => !expected.includes(code))).toEqual([]);
    expect(phase.completed).toBe(Object.values(phase.outcomes).reduce((sum, count) => sum + count, 0n));
    expect(producer.child.exitCode).toBeNull();
    expect((await fetch(`${producer.httpUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${producer.httpUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { conditions: Record<string, boolean> }).conditions.broker_publisher).toBe(false);
  });
});
