// A handler killed with SIGKILL mid-phase and restarted: the AMQP phase reports lost 0,
// established from the broker's own counts where the handlers' ledgers cannot, and the
// figures agree with what the broker itself says.
import { LossBasis, RunState } from "@switchyard/contracts";
import { TOPOLOGY } from "@switchyard/platform";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestVhost, eventually, management, type TestVhost } from "../support/broker.ts";
import { startService, type ServiceProcess } from "../support/process.ts";
import { ms, producerClient, untilMeasuring, watchToEnd } from "./support.ts";

let vhost: TestVhost;
const processes: ServiceProcess[] = [];

/** A handler as a process; every handler here takes a little time per message, so some are in flight when one dies. */
async function handler(id: string, ports: Record<string, string> = {}): Promise<ServiceProcess> {
  const started = await startService("handler", { AMQP_URL: vhost.url, HANDLER_ID: id, SIMULATED_DELAY_MS: "2", ...ports });
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
  it("reports lost 0 from the broker's counts, which agree, and counts copies handled twice as duplicates", async () => {
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
      spec: { transports: ["amqp"], load: { case: "rate", value: 400 }, end: { case: "duration", value: ms(4_000) }, warmup: ms(0) },
    });
    await untilMeasuring(client, started!.id, 0, 600);
    victim.child.kill("SIGKILL");
    await victim.exited;
    // The same replica comes back on the same ports, as a pod's container restarts.
    await handler("replica-b", { HTTP_PORT: port(victim.httpUrl), H2C_PORT: port(victim.h2cUrl) });

    const run = await watchToEnd(client, started!.id);
    expect(run.state).toBe(RunState.SUCCEEDED);
    const phase = run.phases[0]!;
    const ledger = phase.ledger!;
    expect(ledger.lost).toBe(0n);
    expect([LossBasis.HANDLER_LEDGER, LossBasis.BROKER_COUNTS]).toContain(ledger.lossBasis);
    // Both incarnations of replica-b took part, and replica-a.
    const incarnations = ledger.replicas.filter((replica) => replica.handlerId === "replica-b").map((replica) => replica.incarnationId);
    expect(new Set(incarnations).size).toBe(2);
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
