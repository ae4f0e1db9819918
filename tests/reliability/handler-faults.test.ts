// Faults of the handler process itself: kill -9, SIGTERM and SIGSTOP/SIGCONT, each in
// the middle of a steady load, on this file's RabbitMQ node (each scenario has a vhost
// of its own). See docs/reliability.md.
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { eventually } from "../support/broker.ts";
import { useCleanup } from "../support/cleanup.ts";
import { usePrivateNode } from "./support/broker-node.ts";
import { startHandlerProcess, type HandlerProcess } from "./support/handler-process.ts";
import { ScenarioLedger } from "./support/ledger.ts";
import { startAmqpLoad, startRpcLoad } from "./support/load.ts";
import { awaitRecovery, expectNothingLost, settle } from "./support/scenario.ts";
import { newRunId } from "./support/work.ts";

/**
 * The first incarnation's per-message cost in the kill and SIGTERM scenarios. No message
 * can finish inside it before the fault, so what that process handled is exactly what
 * it reported just before (nothing): a handler that is killed cannot be asked afterwards.
 */
const STUCK_MS = "60000";
const PREFETCH = 32;

describe("reliability: handler process faults", () => {
  const node = usePrivateNode(["kill", "term", "sigstop"]);
  const cleanup = useCleanup();

  async function handler(env: Record<string, string>): Promise<HandlerProcess> {
    const started = await startHandlerProcess({ env: { SHUTDOWN_GRACE_MS: "3000", AMQP_PREFETCH: String(PREFETCH), ...env } });
    cleanup.push(() => started.stop(5_000));
    await eventually(async () => (await started.readyz()) === 200, 30_000, 100);
    return started;
  }

  /**
   * Kills (or terminates) the first handler while it holds a full prefetch window of
   * unacknowledged work, then starts a second one; the load publishes throughout.
   */
  async function replaceMidRun(scenario: string, signal: "SIGKILL" | "SIGTERM") {
    const { name, url, ctl } = node().vhost(signal === "SIGKILL" ? "kill" : "term");
    const runId = newRunId(signal === "SIGKILL" ? "kill" : "term");
    const ledger = new ScenarioLedger(scenario);
    const first = await handler({ AMQP_URL: url, SIMULATED_DELAY_MS: STUCK_MS });
    const load = startAmqpLoad({ ledger, runId, url, rate: 100, maxMessages: 3_000 });
    cleanup.push(() => load.stop());

    await eventually(async () => (await first.metric("switchyard_handler_in_flight", 'transport="amqp"')) >= PREFETCH, 20_000, 100);
    ledger.addIncarnation(await first.report(runId));
    first.signal(signal);
    const exit = await first.exited;
    if (signal === "SIGTERM") expect(exit, "exit code after SIGTERM").toBe(0);

    const restartedAt = performance.now();
    const second = await handler({ AMQP_URL: url });
    await awaitRecovery(ledger, [second], [load], restartedAt);
    // Keep the load on for a while after recovery, then let the queue drain.
    await eventually(() => load.sent >= 600, 20_000, 100);
    await load.stop();
    const { figures } = await settle({ ledger, runId, ctl, vhost: name, amqpUrl: url, handlers: [second] });
    expectNothingLost(figures);
    expect(figures.deadLettered, "nothing failed, so nothing is dead-lettered").toBe(0);
    expect(second.running).toBe(true);
  }

  it("handler kill -9 mid-run, with a full prefetch window unacknowledged, and restart", async () => {
    await replaceMidRun("handler kill -9 + restart", "SIGKILL");
  }, 90_000);

  it("handler SIGTERM mid-run (in-flight work outlasts the grace) and restart", async () => {
    await replaceMidRun("handler SIGTERM + restart", "SIGTERM");
  }, 90_000);

  it("handler SIGSTOP for 5 s then SIGCONT, under AMQP and gRPC load", async () => {
    const { name, url, ctl } = node().vhost("sigstop");
    const scenario = "handler SIGSTOP 5 s / SIGCONT";
    const runId = newRunId("sigstop");
    const ledger = new ScenarioLedger(scenario);
    const target = await handler({ AMQP_URL: url });
    const amqpLoad = startAmqpLoad({ ledger, runId, url, rate: 100, maxMessages: 2_000 });
    const grpcLoad = startRpcLoad({ ledger, runId, transport: "grpc", baseUrl: target.h2cUrl, rate: 50, maxMessages: 1_000, sequenceOffset: 1_000_000 });
    cleanup.push(() => amqpLoad.stop(), () => grpcLoad.stop());

    await eventually(() => ledger.acknowledgedCount >= 100, 20_000, 100);
    target.signal("SIGSTOP");
    // The pause is the fault itself, not a wait for a condition.
    await sleep(5_000);
    target.signal("SIGCONT");
    await awaitRecovery(ledger, [target], [amqpLoad, grpcLoad], performance.now());
    await eventually(() => amqpLoad.sent >= 900, 20_000, 100);
    await Promise.all([amqpLoad.stop(), grpcLoad.stop()]);
    const { figures } = await settle({ ledger, runId, ctl, vhost: name, amqpUrl: url, handlers: [target] });
    expectNothingLost(figures);
    expect(target.running).toBe(true);
  }, 90_000);
});
