// Recovery after a long broker outage, on a RabbitMQ node of this file's own (stopping
// a broker is destructive). The handler's twin is tests/handler/broker-recovery.test.ts;
// the two are separate files so the two minute-long outages run in parallel.
import { setTimeout as sleep } from "node:timers/promises";
import amqp from "amqplib";
import { RunState } from "@switchyard/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/broker.ts";
import { startPrivateBroker, type PrivateBroker } from "../support/private-broker.ts";
import { startService, type ServiceProcess } from "../support/process.ts";
import { closedPort, ms, producerClient, watchToEnd } from "./support.ts";

/** How long the broker stays down: long enough for Rascal's default backoff to reach its 60 s cap. */
const OUTAGE_MS = 60_000;

/**
 * The promise under test: ready again within 5 s of the broker's return. The services
 * retry the connection at most every 2 s (RECONNECT_BACKOFF), so the wait is at most
 * 2 s to the next attempt, plus connecting and declaring the topology (tens of
 * milliseconds on loopback, well under a second on a busy 2-core machine), plus this
 * test's 100 ms poll: about 2.5 s, leaving half the bound as margin. Rascal's default
 * backoff (1 s doubling to 60 s), which the services used by mistake, missed it by 28 s
 * after an outage this long.
 */
const READY_WITHIN_MS = 5_000;

describe("producer after a 60 s broker outage", () => {
  let broker: PrivateBroker;
  let producer: ServiceProcess;
  const readyz = async () => (await fetch(`${producer.httpUrl}/readyz`)).status;

  beforeAll(async () => {
    broker = await startPrivateBroker();
    // No handler: this is about the producer's publisher; the messages stay queued.
    producer = await startService("producer", {
      AMQP_URL: broker.url,
      HANDLER_HTTP_URL: `http://127.0.0.1:${await closedPort()}`,
      HANDLER_GRPC_URL: `http://127.0.0.1:${await closedPort()}`,
      SHUTDOWN_GRACE_MS: "4000",
    });
    await eventually(async () => (await readyz()) === 200, 30_000);
  }, 120_000);
  afterAll(async () => {
    await producer?.stop();
    await broker?.destroy();
  });

  it("is ready again within 5 s of the broker's return, and publishes", async () => {
    await broker.stopApp();
    await eventually(async () => (await readyz()) === 503, 15_000);
    // The outage is the scenario itself, not a wait for a condition.
    await sleep(OUTAGE_MS);
    await broker.startApp();
    const back = performance.now();
    // Bounded well past the promise so a miss reports how long recovery really took.
    await eventually(async () => (await readyz()) === 200, 90_000);
    const recoveryMs = Math.round(performance.now() - back);
    console.info(`producer ready ${recoveryMs} ms after the broker came back from a ${OUTAGE_MS / 1000} s outage`);
    expect(recoveryMs).toBeLessThanOrEqual(READY_WITHIN_MS);
    expect(producer.child.exitCode).toBeNull();

    // Ready means publishing: a short AMQP run is confirmed in full and lands in the queue.
    const client = producerClient(producer.httpUrl);
    const { run: started } = await client.startRun({
      spec: { transports: ["amqp"], load: { case: "concurrency", value: 1 }, end: { case: "messages", value: 20n }, warmup: ms(0), sendTimeout: ms(5000) },
    });
    const run = await watchToEnd(client, started!.id);
    expect(run.state).toBe(RunState.SUCCEEDED);
    expect(run.phases[0]!.outcomes).toEqual({ ok: 20n });
    const connection = await amqp.connect(broker.url);
    try {
      const channel = await connection.createChannel();
      expect((await channel.checkQueue("switchyard.work")).messageCount).toBe(20);
    } finally {
      await connection.close();
    }
  }, 200_000);
});
