// Recovery after a long broker outage, on a RabbitMQ node of this file's own (stopping
// a broker is destructive). The producer's twin is tests/producer/broker-recovery.test.ts;
// the two are separate files so the two minute-long outages run in parallel.
import { setTimeout as sleep } from "node:timers/promises";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/broker.ts";
import { startPrivateBroker, type PrivateBroker } from "../support/private-broker.ts";
import { startService, type ServiceProcess } from "../support/process.ts";

/** How long the broker stays down: long enough for Rascal's default backoff to reach its 60 s cap. */
const OUTAGE_MS = 60_000;

/**
 * The promise under test: ready again within 5 s of the broker's return. Rascal retries
 * the connection at most every 2 s (RECONNECT_BACKOFF), and the consumer opens its
 * session again with capped backoff of its own; the wait is at most one cap to the next
 * attempt, plus connecting, declaring the topology and consuming (tens of milliseconds
 * on loopback, well under a second on a busy 2-core machine), plus this test's 100 ms
 * poll. With both caps at 2 s that is about 2.5 s, half the bound as margin. Rascal's
 * default backoff (1 s doubling to 60 s), which the services used by mistake, missed it
 * by 22 s after an outage this long.
 */
const READY_WITHIN_MS = 5_000;

describe("handler after a 60 s broker outage", () => {
  let broker: PrivateBroker;
  let handler: ServiceProcess;
  const readyz = async () => (await fetch(`${handler.httpUrl}/readyz`)).status;

  beforeAll(async () => {
    broker = await startPrivateBroker();
    handler = await startService("handler", { AMQP_URL: broker.url, SHUTDOWN_GRACE_MS: "4000" });
    await eventually(async () => (await readyz()) === 200, 30_000);
  }, 120_000);
  afterAll(async () => {
    await handler?.stop();
    await broker?.destroy();
  });

  it("is ready again within 5 s of the broker's return, and consumes", async () => {
    await broker.stopApp();
    await eventually(async () => (await readyz()) === 503, 15_000);
    // The outage is the scenario itself, not a wait for a condition.
    await sleep(OUTAGE_MS);
    await broker.startApp();
    const back = performance.now();
    // Bounded well past the promise so a miss reports how long recovery really took.
    await eventually(async () => (await readyz()) === 200, 90_000);
    const recoveryMs = Math.round(performance.now() - back);
    console.info(`handler ready ${recoveryMs} ms after the broker came back from a ${OUTAGE_MS / 1000} s outage`);
    expect(recoveryMs).toBeLessThanOrEqual(READY_WITHIN_MS);
    expect(handler.child.exitCode).toBeNull();

    // Ready means consuming: a message published now is handled.
    const connection = await amqp.connect(broker.url);
    try {
      const channel = await connection.createConfirmChannel();
      channel.publish("switchyard.work", "work", Buffer.from('{"id":"after-outage"}'), { contentType: "application/json" });
      await channel.waitForConfirms();
    } finally {
      await connection.close();
    }
    await eventually(async () => {
      const metrics = await (await fetch(`${handler.httpUrl}/metrics`)).text();
      return metrics.includes('switchyard_handler_messages_total{transport="amqp",outcome="ok"} 1');
    }, 15_000);
  }, 200_000);
});
