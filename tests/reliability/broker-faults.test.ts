// Faults of the broker and of the handler's broker connection, on this file's RabbitMQ
// node: stop_app for 10 s, kill -9 of the Erlang VM, and the handler's connection
// closed while failing work is in flight. The 60 s outage is in its own file so it
// overlaps these. See docs/reliability.md.
import { describe, expect, it } from "vitest";
import { eventually } from "../support/broker.ts";
import { useCleanup } from "../support/cleanup.ts";
import { usePrivateNode } from "./support/broker-node.ts";
import { startHandlerProcess } from "./support/handler-process.ts";
import { ScenarioLedger } from "./support/ledger.ts";
import { startAmqpLoad } from "./support/load.ts";
import { brokerOutageUnderLoad } from "./support/outage.ts";
import { awaitRecovery, expectNothingLost, settle } from "./support/scenario.ts";
import { newRunId } from "./support/work.ts";

describe("reliability: broker faults", () => {
  const node = usePrivateNode(["stop10", "kill", "drop"]);
  const cleanup = useCleanup();

  it("broker stop_app for 10 s under load", async () => {
    const { broker } = node();
    await brokerOutageUnderLoad("broker stop_app 10 s", node().vhost("stop10"), {
      begin: () => broker.stopApp(),
      end: () => broker.startApp(),
      durationMs: 10_000,
    }, cleanup);
  }, 120_000);

  it("broker kill -9 of the Erlang VM under load, and restart", async () => {
    const { broker } = node();
    await brokerOutageUnderLoad("broker kill -9 + restart", node().vhost("kill"), {
      begin: () => broker.kill(),
      end: () => broker.start(),
      durationMs: 1_000,
    }, cleanup);
  }, 150_000);

  it("handler's broker connection closed while every message's handling is in flight and fails", async () => {
    // The reproduction: 20 messages, each taking 4 s and failing, the handler's
    // connection closed half a second in. The broker redelivers while the first attempts
    // still run; every message must end in the dead-letter queue, none acked unhandled.
    // Three deliveries per message instead of five keep the scenario short.
    const vhost = node().vhost("drop");
    const runId = newRunId("drop");
    const ledger = new ScenarioLedger("connection drop, failing work in flight");
    const handler = await startHandlerProcess({
      env: { AMQP_URL: vhost.url, SIMULATED_DELAY_MS: "4000", SIMULATED_FAILURE_RATIO: "1", AMQP_DELIVERY_LIMIT: "3", SHUTDOWN_GRACE_MS: "3000" },
    });
    cleanup.push(() => handler.stop(5_000));
    await eventually(async () => (await handler.readyz()) === 200, 30_000, 100);
    const load = startAmqpLoad({ ledger, runId, url: vhost.url, rate: 100, maxMessages: 20 });
    cleanup.push(() => load.stop());
    await eventually(() => ledger.acknowledgedCount === 20, 20_000, 100);
    await load.stop();
    await eventually(async () => (await handler.metric("switchyard_handler_in_flight", 'transport="amqp"')) === 20, 10_000, 50);

    // Only the handler is connected to this vhost now: close its connection.
    const connections = await vhost.ctl("list_connections", "--no-table-headers", "pid", "vhost");
    const ours = connections.split("\n").map((line) => line.trim().split(/\s+/)).filter(([, name]) => name === vhost.name);
    expect(ours.length, "the handler's connections").toBeGreaterThan(0);
    for (const [pid] of ours) await vhost.ctl("close_connection", pid!, "reliability test: connection drop");
    await awaitRecovery(ledger, [handler], [], performance.now());

    const { figures, deadLetters } = await settle({ ledger, runId, ctl: vhost.ctl, vhost: vhost.name, amqpUrl: vhost.url, handlers: [handler] });
    expectNothingLost(figures);
    // Handling always fails: nothing may count as handled, everything is dead-lettered with a reason.
    expect(figures.handled).toBe(0);
    expect(figures.deadLettered).toBe(20);
    for (const letter of deadLetters) expect(letter.reason ?? letter.death, `reason for ${String(letter.messageId)}`).toBeTruthy();
    expect(handler.running).toBe(true);
  }, 120_000);
});
