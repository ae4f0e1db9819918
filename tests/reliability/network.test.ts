// A partition and packet loss between the producer side and the handler: the handler
// runs in a network namespace this file creates, reaching this file's RabbitMQ node over
// a veth pair; iptables rules inside the namespace drop what arrives on that link. The
// load (gRPC calls and AMQP publishes) comes from the host. See docs/reliability.md.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/broker.ts";
import { useCleanup } from "../support/cleanup.ts";
import { usePrivateNode } from "./support/broker-node.ts";
import { startHandlerProcess } from "./support/handler-process.ts";
import { ScenarioLedger } from "./support/ledger.ts";
import { startAmqpLoad, startRpcLoad } from "./support/load.ts";
import { createNetworkNamespace, type NetworkNamespace } from "./support/netns.ts";
import { awaitRecovery, expectNothingLost, settle } from "./support/scenario.ts";
import { newRunId } from "./support/work.ts";

describe("reliability: partition and packet loss", () => {
  let namespace: NetworkNamespace | undefined;
  beforeAll(async () => {
    namespace = await createNetworkNamespace();
  });
  afterAll(async () => {
    await namespace?.destroy();
  });
  // The node listens on the host's end of the veth pair only, and lets guest in from there.
  const node = usePrivateNode(["partition", "loss"], () => ({ bindAddress: namespace!.hostAddress, guestFromAnywhere: true }));
  const cleanup = useCleanup();

  async function underFault(scenario: string, vhostName: string, fault: readonly string[], faultMs: number) {
    const ns = namespace!;
    const vhost = node().vhost(vhostName);
    const runId = newRunId("net");
    const ledger = new ScenarioLedger(scenario);
    const handler = await startHandlerProcess({ env: { AMQP_URL: vhost.url, SHUTDOWN_GRACE_MS: "3000" }, netns: ns.name, host: ns.nsAddress });
    cleanup.push(() => handler.stop(5_000));
    await eventually(async () => (await handler.readyz()) === 200, 30_000, 100);
    const amqpLoad = startAmqpLoad({ ledger, runId, url: vhost.url, rate: 50, maxMessages: 10_000 });
    const grpcLoad = startRpcLoad({ ledger, runId, transport: "grpc", baseUrl: handler.h2cUrl, rate: 50, maxMessages: 10_000, sequenceOffset: 1_000_000 });
    cleanup.push(() => amqpLoad.stop(), () => grpcLoad.stop(), () => ns.clear());
    await eventually(() => ledger.acknowledgedCount >= 100, 20_000, 100);

    await ns.drop(fault);
    // The fault lasts this long: it is the scenario, not a wait for a condition.
    await sleep(faultMs);
    await ns.clear();
    await awaitRecovery(ledger, [handler], [amqpLoad, grpcLoad], performance.now());
    const sentAtRecovery = amqpLoad.sent;
    await eventually(() => amqpLoad.sent >= sentAtRecovery + 100, 20_000, 100);
    await Promise.all([amqpLoad.stop(), grpcLoad.stop()]);

    const { figures } = await settle({ ledger, runId, ctl: vhost.ctl, vhost: vhost.name, amqpUrl: vhost.url, handlers: [handler] });
    expectNothingLost(figures);
    expect(figures.deadLettered, "nothing failed, so nothing is dead-lettered").toBe(0);
    expect(handler.running).toBe(true);
  }

  it("partition: everything arriving at the handler's namespace dropped for 10 s", async () => {
    await underFault("partition 10 s (netns, iptables DROP)", "partition", [], 10_000);
  }, 120_000);

  it("2% packet loss into the handler's namespace for 10 s", async () => {
    await underFault("2% packet loss 10 s (netns)", "loss", ["-m", "statistic", "--mode", "random", "--probability", "0.02"], 10_000);
  }, 120_000);
});
