// The ledger must notice what it should: a message that vanished from the queue after
// the broker confirmed it, and a second copy of a message reaching the handler.
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { RunState, WorkSchema } from "@switchyard/contracts";
import { TOPOLOGY } from "@switchyard/platform";
import amqplib from "amqplib";
import { describe, expect, it } from "vitest";
import { useCleanup } from "../support/cleanup.ts";
import { createTestVhost, type TestVhost } from "../support/broker.ts";
import { startService, type ServiceProcess } from "../support/process.ts";
import { ms, producerClient, untilMeasuring, watchToEnd } from "./support.ts";

const cleanup = useCleanup();

async function services(handlerEnv: Record<string, string> = {}): Promise<{ vhost: TestVhost; producer: ServiceProcess }> {
  const vhost = await createTestVhost("switchyard-ledger");
  cleanup.push(() => vhost.delete());
  const handler = await startService("handler", { AMQP_URL: vhost.url, ...handlerEnv });
  cleanup.push(() => handler.stop());
  const producer = await startService("producer", {
    AMQP_URL: vhost.url,
    HANDLER_HTTP_URL: handler.httpUrl,
    HANDLER_GRPC_URL: handler.h2cUrl,
    PRODUCER_ID: "it-ledger",
  });
  cleanup.push(() => producer.stop());
  return { vhost, producer };
}

describe("the ledger", () => {
  it("counts messages deleted from the queue after their confirm as lost", async () => {
    // A slow handler (one at a time, 20 ms each) lets a backlog build that the test purges.
    const { vhost, producer } = await services({ AMQP_PREFETCH: "1", SIMULATED_DELAY_MS: "20" });
    const client = producerClient(producer.httpUrl);
    const { run: started } = await client.startRun({
      spec: { transports: ["amqp"], load: { case: "rate", value: 200 }, end: { case: "duration", value: ms(1500) }, warmup: ms(0) },
    });
    // 100 sent at 200/s while the handler took about 25: a backlog of confirmed messages.
    await untilMeasuring(client, started!.id, 0, 100);
    const connection = await amqplib.connect(vhost.url);
    cleanup.push(() => connection.close());
    const { messageCount: purged } = await (await connection.createChannel()).purgeQueue(TOPOLOGY.workQueue);
    expect(purged).toBeGreaterThanOrEqual(1);

    const run = await watchToEnd(client, started!.id);
    expect(run.state).toBe(RunState.SUCCEEDED);
    const ledger = run.phases[0]!.ledger!;
    expect(ledger.tracked).toBe(true);
    expect(ledger.acknowledged).toBe(ledger.sent);
    expect(ledger.lost).toBe(BigInt(purged));
    expect(ledger.received + ledger.lost!).toBe(ledger.acknowledged);
    expect(run.phases[0]!.notes).toContain(`${ledger.lost} acknowledged messages never reached the handler`);
  });

  it("counts a second copy of a message as a duplicate", async () => {
    const { vhost, producer } = await services();
    const client = producerClient(producer.httpUrl);
    const { run: started } = await client.startRun({
      spec: { transports: ["amqp"], load: { case: "concurrency", value: 4 }, end: { case: "duration", value: ms(1500) }, warmup: ms(0) },
    });
    const measuring = await untilMeasuring(client, started!.id, 0, 20);
    const producerId = measuring.phases[0]!.producerId;

    // Copies of sequences 1-3 with their original ids, published straight into the vhost.
    const connection = await amqplib.connect(vhost.url);
    cleanup.push(() => connection.close());
    const channel = await connection.createConfirmChannel();
    for (const sequence of [1, 2, 3]) {
      const copy = create(WorkSchema, { id: `${producerId}-${sequence}`, producerId, sequence: BigInt(sequence), sentAt: timestampNow(), payload: new Uint8Array(64) });
      channel.publish(TOPOLOGY.workExchange, TOPOLOGY.routingKey, Buffer.from(toBinary(WorkSchema, copy)), {
        contentType: "application/x-protobuf",
        messageId: copy.id,
        persistent: true,
      });
    }
    await channel.waitForConfirms();

    const run = await watchToEnd(client, started!.id);
    const ledger = run.phases[0]!.ledger!;
    expect(ledger.tracked).toBe(true);
    expect(ledger.duplicated).toBe(3n);
    expect(ledger.lost).toBe(0n);
    expect(ledger.received).toBe(ledger.acknowledged);
  });
});
