import type { Work } from "@switchyard/contracts";
import type { Sender, SendResult } from "@switchyard/measurement";
import { declareReferenceTopology, REFERENCE_TOPOLOGY } from "@switchyard/platform";
import amqp, { type ChannelModel } from "amqplib";
import type { Logger } from "pino";
import { ConfirmPublisher, type PublishingChannel } from "../confirm-publisher.ts";

/** What {@link AmqplibSender} needs. */
export interface AmqplibSenderOptions {
  url: string;
  /** Most publishes awaiting their confirm at once: the AMQP sender's AMQP_CONFIRM_WINDOW. */
  window: number;
  /** The reference queue's `x-delivery-limit`: the work queue's. */
  deliveryLimit: number;
  /** TLS material for an amqps:// URL, handed to amqplib as socket options. */
  socketOptions?: Record<string, unknown>;
  logger: Logger;
}

/**
 * The AMQP reference sender (`amqplib`): raw amqplib on one confirm channel, publishing
 * to the reference exchange through the AMQP sender's own publish core
 * ({@link ConfirmPublisher}: same properties, same confirm window, same outcomes). It
 * differs from the AMQP sender only in how it gets its connection — amqplib directly,
 * declaring the reference topology itself, instead of from Rascal — and in its exchange.
 * The connection opens on the first send and again on the first send after it closed.
 */
export class AmqplibSender implements Sender {
  readonly transport = "amqplib" as const;
  readonly #options: AmqplibSenderOptions;
  readonly #publisher: ConfirmPublisher;
  /** The connection being opened or open; forgotten once it closes or fails to open. */
  #connection: Promise<ChannelModel> | undefined;
  #closed = false;

  constructor(options: AmqplibSenderOptions) {
    this.#options = options;
    this.#publisher = new ConfirmPublisher({ exchange: REFERENCE_TOPOLOGY.exchange, routingKey: REFERENCE_TOPOLOGY.routingKey, window: options.window });
  }

  async send(work: Work, timeoutMs: number): Promise<SendResult> {
    if (!this.#publisher.ready) {
      try {
        await this.#open();
      } catch {
        // No channel and no time to wait for one: `unavailable`, with the body's size.
        return this.#publisher.send(work, 0);
      }
    }
    return this.#publisher.send(work, timeoutMs);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const open = this.#connection;
    this.#connection = undefined;
    if (open) await open.then((connection) => connection.close()).catch(() => undefined);
  }

  /** The open connection, opening one (with its confirm channel) when there is none. */
  #open(): Promise<ChannelModel> {
    if (this.#closed) return Promise.reject(new Error("closed"));
    if (!this.#connection) {
      const opening = this.#connect();
      this.#connection = opening;
      // A failed attempt is forgotten, so the next send tries again.
      opening.catch(() => {
        if (this.#connection === opening) this.#connection = undefined;
      });
    }
    return this.#connection;
  }

  async #connect(): Promise<ChannelModel> {
    const { url, deliveryLimit, socketOptions, logger } = this.#options;
    const withHeartbeat = new URL(url);
    if (!withHeartbeat.searchParams.has("heartbeat")) withHeartbeat.searchParams.set("heartbeat", "10");
    const connection = await amqp.connect(withHeartbeat.toString(), { timeout: 5_000, ...socketOptions });
    connection.on("error", (error: unknown) => logger.warn({ err: error }, "reference connection error"));
    try {
      const channel = await connection.createConfirmChannel();
      let closedEarly = false;
      channel.once("close", () => (closedEarly = true));
      channel.on("error", (error: unknown) => logger.warn({ err: error }, "reference channel error"));
      await declareReferenceTopology(channel, url, deliveryLimit);
      if (closedEarly) throw new Error("the reference channel closed while opening");
      const opened = this.#connection;
      // A closed channel (a closed connection closes it too) ends this connection; the
      // next send opens another.
      void this.#publisher.attach(channel as unknown as PublishingChannel).then(() => {
        if (this.#connection === opened) this.#connection = undefined;
        void connection.close().catch(() => undefined);
      });
      return connection;
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
  }
}
