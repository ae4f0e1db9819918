// Both AMQP senders when their connection drops with publishes in flight, on a RabbitMQ
// node of this file's own (a memory alarm and closed connections are destructive): a
// publish the broker never confirmed ends `unavailable` — never `nacked`, never lost —
// readiness is false while there is no channel, and the sender publishes again on the
// next connection.
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { WorkSchema, type Work } from "@switchyard/contracts";
import type { Sender } from "@switchyard/measurement";
import { rascalConfig, Readiness } from "@switchyard/platform";
import { pino } from "pino";
import type { BrokerConfig } from "rascal";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/broker.ts";
import { startPrivateBroker, type PrivateBroker } from "../support/private-broker.ts";
import { AmqpSender, PUBLISHER_CONDITION } from "../../services/producer/src/senders/amqp.ts";
import { AmqplibSender } from "../../services/producer/src/senders/reference/amqplib.ts";

const logger = pino({ level: "silent" });
let sequence = 0;
const work = (): Work =>
  create(WorkSchema, { id: `drop-${++sequence}`, producerId: "connection-drop", sequence: BigInt(sequence), sentAt: timestampNow(), payload: new Uint8Array(64) });

/** Sends held back by a blocked connection: they reach the broker only if it reads again. */
const HELD = 20;

/** Readiness that remembers every value a condition took, so a brief `false` is seen. */
class RecordingReadiness extends Readiness {
  readonly history: boolean[] = [];
  override set(name: string, holds: boolean): void {
    if (name === PUBLISHER_CONDITION) this.history.push(holds);
    super.set(name, holds);
  }
}

describe("AMQP senders when the connection drops with publishes in flight", () => {
  let broker: PrivateBroker;

  beforeAll(async () => {
    broker = await startPrivateBroker();
  }, 120_000);
  afterAll(async () => {
    await broker?.destroy();
  });

  /**
   * Blocks publishing with a memory alarm, waits until the broker has stopped reading a
   * publishing connection (so what is sent next stays unread), sends {@link HELD} more,
   * closes every connection, and lifts the alarm. Returns the held sends' outcomes.
   */
  async function dropWithPublishesInFlight(sender: Sender): Promise<string[]> {
    await broker.ctl("set_vm_memory_high_watermark", "0");
    try {
      // The first publish after the alarm is what makes the broker stop reading.
      const trigger = sender.send(work(), 60_000);
      await eventually(async () => (await broker.ctl("list_connections", "--no-table-headers", "state")).includes("blocked"), 20_000);
      const held = Array.from({ length: HELD }, () => sender.send(work(), 60_000));
      await broker.ctl("close_all_connections", "test: connection drop");
      const outcomes = (await Promise.all(held)).map((result) => result.outcome);
      expect(["ok", "unavailable"]).toContain((await trigger).outcome);
      return outcomes;
    } finally {
      await broker.ctl("set_vm_memory_high_watermark", "0.4");
    }
  }

  it("AmqpSender: unconfirmed publishes end unavailable, readiness drops, and it publishes on the next connection", async () => {
    const readiness = new RecordingReadiness();
    const sender = new AmqpSender({ rascal: rascalConfig({ url: broker.url, deliveryLimit: 5 }) as BrokerConfig, window: 64, readiness, logger });
    sender.start();
    try {
      await eventually(() => sender.connected, 30_000);
      expect((await sender.send(work(), 5_000)).outcome).toBe("ok");
      expect(await dropWithPublishesInFlight(sender)).toEqual(Array<string>(HELD).fill("unavailable"));
      expect(readiness.history).toContain(false);
      await eventually(async () => (await sender.send(work(), 5_000)).outcome === "ok", 30_000);
      expect(readiness.snapshot()[PUBLISHER_CONDITION]).toBe(true);
    } finally {
      await sender.close();
    }
    expect(readiness.snapshot()[PUBLISHER_CONDITION]).toBe(false);
  }, 90_000);

  it("AmqplibSender: unconfirmed publishes end unavailable, not nacked, and the next send opens a new connection", async () => {
    const sender = new AmqplibSender({ url: broker.url, window: 64, deliveryLimit: 5, logger });
    try {
      expect((await sender.send(work(), 5_000)).outcome).toBe("ok");
      expect(await dropWithPublishesInFlight(sender)).toEqual(Array<string>(HELD).fill("unavailable"));
      await eventually(async () => (await sender.send(work(), 5_000)).outcome === "ok", 30_000);
    } finally {
      await sender.close();
    }
  }, 90_000);
});
