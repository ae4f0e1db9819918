// A handler killed with SIGKILL mid-phase and restarted: the AMQP phase reports lost 0,
// established from the broker's own counts where the handlers' ledgers cannot, and the
// figures agree with what the broker itself says.
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { LossBasis, ObservationService, RunState } from "@switchyard/contracts";
import { TOPOLOGY } from "@switchyard/platform";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestVhost, eventually, management, type TestVhost } from "../support/broker.ts";
import { startService, type ServiceProcess } from "../support/process.ts";
import { ms, producerClient, untilMeasuring, watchToEnd } from "./support.ts";

let vhost: TestVhost;
const processes: ServiceProcess[] = [];

/** A handler as a process; every handler here takes a little time per message, so some are in flight when one dies. */
async function handler(id: string, ports: Record<string, string> = {}): Promise<ServiceProcess> {
  // A generous start bound: a restart happens while the machine is busy with the phase.
  const started = await startService("handler", { AMQP_URL: vhost.url, HANDLER_ID: id, SIMULATED_DELAY_MS: "2", ...ports }, { timeoutMs: 60_000 });
  processes.push(started);
  return started;
}

beforeAll(async () => {
  vhost = await createTestVhost("switchyard-restart");
});

afterAll(async () => {
  for (const process of processes.reverse()) await process.stop();
  await vhost?.delete();
});

interface QueueStats {
  messages: number;
  message_stats?: { publish?: number; ack?: number; redeliver?: number };
}

describe("a handler killed and restarted mid-phase", () => {
  // A 20 s phase, the broker's 5 s statistics interval and process starts on a busy machine.
  it("reports lost 0 from the broker's counts, which agree, and counts copies handled twice as duplicates", { timeout: 150_000 }, async () => {
    const steady = await handler("replica-a");
    const victim = await handler("replica-b");
    const port = (url: string) => new URL(url).port;
    const producer = await startService("producer", {
      AMQP_URL: vhost.url,
      PRODUCER_ID: "it-restart",
      HANDLER_HTTP_URLS: [steady.httpUrl, victim.httpUrl].join(","),
      HANDLER_GRPC_URLS: [steady.h2cUrl, victim.h2cUrl].join(","),
    });
    processes.push(producer);
    const client = producerClient(producer.httpUrl);
    const { run: started } = await client.startRun({
      // Long enough that the restarted handler, however slow to start on a busy machine, takes part.
      spec: { transports: ["amqp"], load: { case: "rate", value: 150 }, end: { case: "duration", value: ms(30_000) }, warmup: ms(0) },
    });
    const measuring = await untilMeasuring(client, started!.id, 0, 150);
    const producerId = measuring.phases[0]!.producerId;
    victim.child.kill("SIGKILL");
    await victim.exited;
    // The same replica comes back on the same ports, as a pod's container restarts.
    const restarted = await handler("replica-b", { HTTP_PORT: port(victim.httpUrl), H2C_PORT: port(victim.h2cUrl) });
    const observe = createClient(ObservationService, createConnectTransport({ baseUrl: restarted.httpUrl, httpVersion: "1.1" }));
    const status = await observe.getStatus({});
    // The new incarnation competes for the queue again before the phase ends.
    await eventually(async () => (await observe.getReceived({ producerId })).tracked, 28_000, 200);

    const run = await watchToEnd(client, started!.id);
    expect(run.state).toBe(RunState.SUCCEEDED);
    const phase = run.phases[0]!;
    const ledger = phase.ledger!;
    expect(ledger.lost).toBe(0n);
    expect([LossBasis.HANDLER_LEDGER, LossBasis.BROKER_COUNTS]).toContain(ledger.lossBasis);
    // The restarted incarnation of replica-b took part, and replica-a. (The killed one
    // appears too when a poll reached it before it died; the broker's counts cover it if not.)
    const incarnations = ledger.replicas.filter((replica) => replica.handlerId === "replica-b").map((replica) => replica.incarnationId);
    expect(incarnations).toContain(status.incarnation!.id);
    expect(ledger.replicas.some((replica) => replica.handlerId === "replica-a")).toBe(true);

    // The broker's own view: everything published was acknowledged after handling, nothing is left.
    const queue = `/queues/${encodeURIComponent(vhost.name)}/${encodeURIComponent(TOPOLOGY.workQueue)}`;
    const stats = (await eventually(async () => {
      const current = (await management(queue)) as QueueStats;
      const settled = current.messages === 0 && (current.message_stats?.ack ?? 0) === (current.message_stats?.publish ?? -1);
      return settled ? current : false;
    }, 30_000, 500)) as QueueStats;
    expect(stats.message_stats!.publish).toBeGreaterThanOrEqual(Number(ledger.acknowledged));
    expect(Number(ledger.received)).toBeLessThanOrEqual(stats.message_stats!.ack!);
    // A copy handled twice (handled by the killed incarnation, not yet acknowledged, then
    // redelivered) is a duplicate; there can be no more of them than redeliveries.
    expect(Number(ledger.duplicated)).toBeLessThanOrEqual(stats.message_stats!.redeliver ?? 0);
    expect(stats.message_stats!.redeliver).toBeGreaterThan(0);
    if (ledger.lossBasis === LossBasis.BROKER_COUNTS) {
      expect(phase.notes.some((note) => note.startsWith("loss established from the broker's counts"))).toBe(true);
    }
  });
});
