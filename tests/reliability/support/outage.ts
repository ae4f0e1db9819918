import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "vitest";
import { eventually } from "../../support/broker.ts";
import { startService } from "../../support/process.ts";
import type { NodeVhost } from "./broker-node.ts";
import { startHandlerProcess } from "./handler-process.ts";
import { ScenarioLedger } from "./ledger.ts";
import { startAmqpLoad, startRpcLoad } from "./load.ts";
import { awaitRecovery, expectNothingLost, settle } from "./scenario.ts";
import { newRunId } from "./work.ts";

/** How a broker outage is made and ended. */
export interface Outage {
  /** Takes the broker away (stop_app, kill -9); resolves once its port is closed. */
  begin(): Promise<void>;
  /** Brings it back; resolves once it accepts connections again. */
  end(): Promise<void>;
  /** How long the broker stays away, in milliseconds. */
  durationMs: number;
}

/**
 * A broker outage under load: a handler and a producer process on `vhost`, AMQP publishes
 * (50/s) and gRPC calls (20/s) straight to the handler, the broker taken away for
 * `outage.durationMs` and brought back. Recovery counts from the broker's return until
 * both services are ready and both loads have a send acknowledged again. Registers its
 * processes with `cleanup`; asserts that nothing acknowledged was lost.
 */
export async function brokerOutageUnderLoad(
  scenario: string,
  vhost: NodeVhost,
  outage: Outage,
  cleanup: Array<() => Promise<unknown>>,
): Promise<void> {
  const runId = newRunId("outage");
  const ledger = new ScenarioLedger(scenario);
  const handler = await startHandlerProcess({ env: { AMQP_URL: vhost.url, SHUTDOWN_GRACE_MS: "3000" } });
  cleanup.push(() => handler.stop(5_000));
  const producer = await startService("producer", {
    AMQP_URL: vhost.url,
    HANDLER_HTTP_URL: handler.httpUrl,
    HANDLER_GRPC_URL: handler.h2cUrl,
    SHUTDOWN_GRACE_MS: "3000",
  });
  cleanup.push(() => producer.stop());
  const producerReadyz = {
    readyz: async () => (await fetch(`${producer.httpUrl}/readyz`, { signal: AbortSignal.timeout(1_000) }).catch(() => undefined))?.status ?? 0,
  };
  await eventually(async () => (await handler.readyz()) === 200 && (await producerReadyz.readyz()) === 200, 30_000, 100);

  const amqpLoad = startAmqpLoad({ ledger, runId, url: vhost.url, rate: 50, maxMessages: 20_000 });
  const grpcLoad = startRpcLoad({ ledger, runId, transport: "grpc", baseUrl: handler.h2cUrl, rate: 20, maxMessages: 10_000, sequenceOffset: 1_000_000 });
  cleanup.push(() => amqpLoad.stop(), () => grpcLoad.stop());
  await eventually(() => ledger.acknowledgedCount >= 100, 20_000, 100);

  await outage.begin();
  const sentBefore = grpcLoad.sent;
  // The outage is the scenario itself, not a wait for a condition.
  await sleep(outage.durationMs);
  // RPC does not need the broker: it kept being served all along.
  expect(grpcLoad.sent).toBeGreaterThan(sentBefore);
  await outage.end();
  await awaitRecovery(ledger, [handler, producerReadyz], [amqpLoad, grpcLoad], performance.now());
  const sentAtRecovery = amqpLoad.sent;
  await eventually(() => amqpLoad.sent >= sentAtRecovery + 100, 20_000, 100);
  await Promise.all([amqpLoad.stop(), grpcLoad.stop()]);

  const { figures } = await settle({ ledger, runId, ctl: vhost.ctl, vhost: vhost.name, amqpUrl: vhost.url, handlers: [handler] });
  expectNothingLost(figures);
  expect(figures.deadLettered, "nothing failed, so nothing is dead-lettered").toBe(0);
  expect(handler.running && producer.child.exitCode === null, "both services still running").toBe(true);
}
