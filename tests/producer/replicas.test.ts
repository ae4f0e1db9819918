// Three real handler processes behind one producer, on a real RabbitMQ vhost: every
// replica's share is reported, nothing is lost, and the RPC senders either pin one
// replica (balancing off) or spread evenly (round robin) while AMQP consumers compete.
import { RunState, type Run } from "@switchyard/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestVhost, type TestVhost } from "../support/broker.ts";
import { startService, type ServiceProcess } from "../support/process.ts";
import { ms, producerClient, watchToEnd } from "./support.ts";

let vhost: TestVhost;
const handlers: ServiceProcess[] = [];
const producers: ServiceProcess[] = [];

beforeAll(async () => {
  vhost = await createTestVhost("switchyard-replicas");
  for (const index of [1, 2, 3]) handlers.push(await startService("handler", { AMQP_URL: vhost.url, HANDLER_ID: `replica-${index}` }));
});

afterAll(async () => {
  for (const producer of producers) await producer.stop();
  for (const handler of handlers) await handler.stop();
  await vhost?.delete();
});

async function runWith(balancing: "round_robin" | "off"): Promise<Run> {
  const producer = await startService("producer", {
    AMQP_URL: vhost.url,
    PRODUCER_ID: `it-replicas-${balancing.replace("_", "")}`,
    HANDLER_HTTP_URL: handlers[0]!.httpUrl,
    HANDLER_GRPC_URL: handlers[0]!.h2cUrl,
    HANDLER_HTTP_URLS: handlers.map((handler) => handler.httpUrl).join(","),
    HANDLER_GRPC_URLS: handlers.map((handler) => handler.h2cUrl).join(","),
    HANDLER_RPC_BALANCING: balancing,
  });
  producers.push(producer);
  const client = producerClient(producer.httpUrl);
  const { run: started } = await client.startRun({
    spec: { load: { case: "concurrency", value: 6 }, end: { case: "messages", value: 600n }, warmup: ms(0) },
  });
  return watchToEnd(client, started!.id);
}

/** Each replica's handled count in one phase, by handler id. */
function shares(run: Run, transport: string): Map<string, number> {
  const phase = run.phases.find((candidate) => candidate.transport === transport)!;
  return new Map(phase.ledger!.replicas.map((replica) => [replica.handlerId, Number(replica.handled)]));
}

// Three handlers, a producer and three phases per run: slow on a busy 2-core machine.
describe("three handler replicas", { timeout: 150_000 }, () => {
  it("round robin: nothing lost, each replica gets its third of RPC sends within 20%, and AMQP's consumers share", async () => {
    const run = await runWith("round_robin");
    expect(run.state).toBe(RunState.SUCCEEDED);
    for (const phase of run.phases) {
      expect(phase.ledger).toMatchObject({ tracked: true, lost: 0n });
      expect(phase.ledger!.received).toBe(phase.ledger!.acknowledged);
      const perReplica = shares(run, phase.transport);
      expect([...perReplica.keys()].sort()).toEqual(["replica-1", "replica-2", "replica-3"]);
      // AMQP's competing consumers share by whoever has prefetch credit first: every one
      // takes part, but how evenly depends on their speed, not on the producer.
      if (phase.transport === "amqp") {
        for (const handled of perReplica.values()) expect(handled).toBeGreaterThan(0);
        continue;
      }
      const even = Number(phase.ledger!.received) / 3;
      for (const handled of perReplica.values()) expect(Math.abs(handled - even)).toBeLessThanOrEqual(0.2 * even);
    }
  });

  it("balancing off: the RPC transports put every message on one replica, AMQP's consumers still share", async () => {
    const run = await runWith("off");
    expect(run.state).toBe(RunState.SUCCEEDED);
    for (const phase of run.phases) expect(phase.ledger).toMatchObject({ tracked: true, lost: 0n });
    for (const transport of ["grpc", "connect"]) expect([...shares(run, transport).keys()]).toEqual(["replica-1"]);
    expect(shares(run, "amqp").size).toBe(3);
  });
});
