import { toBinary } from "@bufbuild/protobuf";
import { WorkSchema, type Work } from "@switchyard/contracts";
import type { Outcome, Sender, SendResult } from "@switchyard/measurement";
import { declareReferenceTopology, REFERENCE_TOPOLOGY, TOPOLOGY } from "@switchyard/platform";
import amqp, { type ChannelModel, type ConfirmChannel } from "amqplib";
import type { Logger } from "pino";
import { WORK_CONTENT_TYPE } from "../amqp.ts";

/** One connection's confirm channel; `gone` once either has closed. */
interface OpenChannel {
  connection: ChannelModel;
  channel: ConfirmChannel;
  gone: boolean;
}

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
 * to the reference exchange with the AMQP sender's properties (binary protobuf,
 * persistent, mandatory, message id, type, timestamp) and the same confirm window. A send
 * resolves on its own confirm: `ok`, `nacked`, `returned` (no queue bound), `timeout`
 * (none in time) or `unavailable` (no connection, or it closed before the confirm).
 * The connection opens on the first send and again on the first send after it closed.
 */
export class AmqplibSender implements Sender {
  readonly transport = "amqplib" as const;
  readonly #options: AmqplibSenderOptions;
  /** Sends waiting for a window slot, oldest first. */
  readonly #waiting: Array<() => void> = [];
  #inWindow = 0;
  #channel: Promise<OpenChannel> | undefined;
  /** The session {@link #channel} resolved to, once open. */
  #current: OpenChannel | undefined;
  /** Sends awaiting their confirm, by Work id, so a basic.return can find its send. */
  readonly #returnable = new Map<string, () => void>();
  #closed = false;

  constructor(options: AmqplibSenderOptions) {
    this.#options = options;
  }

  async send(work: Work, timeoutMs: number): Promise<SendResult> {
    const body = toBinary(WorkSchema, work);
    const bytes = body.byteLength;
    const deadline = performance.now() + timeoutMs;
    let open;
    try {
      open = await this.#open();
    } catch {
      return { outcome: "unavailable", bytes };
    }
    // Waiting for a window slot counts against the send's own timeout, as on the AMQP sender.
    if (!(await this.#acquire(deadline - performance.now()))) return { outcome: "timeout", bytes };
    try {
      return { outcome: await this.#publish(open, work, body, deadline), bytes };
    } finally {
      this.#release();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const open = this.#channel;
    this.#channel = undefined;
    if (open) await open.then(({ connection }) => connection.close()).catch(() => undefined);
  }

  #publish(open: OpenChannel, work: Work, body: Uint8Array, deadline: number): Promise<Outcome> {
    const { channel } = open;
    return new Promise((resolve) => {
      let done = false;
      const finish = (outcome: Outcome) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.#returnable.delete(work.id);
        resolve(outcome);
      };
      const timer = setTimeout(() => finish("timeout"), Math.max(0, deadline - performance.now()));
      // The broker sends basic.return before the confirm of an unroutable message.
      this.#returnable.set(work.id, () => finish("returned"));
      try {
        channel.publish(
          REFERENCE_TOPOLOGY.exchange,
          REFERENCE_TOPOLOGY.routingKey,
          Buffer.from(body.buffer, body.byteOffset, body.byteLength),
          {
            persistent: true,
            mandatory: true,
            messageId: work.id,
            contentType: WORK_CONTENT_TYPE,
            type: TOPOLOGY.messageType,
            // AMQP timestamps are whole seconds.
            timestamp: Math.floor(Date.now() / 1000),
          },
          // amqplib calls back with an error for a nack, and for a channel that closed first.
          (error: unknown) => finish(error ? (open.gone ? "unavailable" : "nacked") : "ok"),
        );
      } catch {
        finish("unavailable");
      }
    });
  }

  /** The open confirm channel, opening a connection when there is none. */
  #open(): Promise<OpenChannel> {
    if (this.#closed) return Promise.reject(new Error("closed"));
    if (!this.#channel) {
      const opening = this.#connect();
      this.#channel = opening;
      // A failed attempt is forgotten, so the next send tries again.
      opening.catch(() => {
        if (this.#channel === opening) this.#channel = undefined;
      });
    }
    return this.#channel;
  }

  async #connect(): Promise<OpenChannel> {
    const { url, deliveryLimit, socketOptions, logger } = this.#options;
    const withHeartbeat = new URL(url);
    if (!withHeartbeat.searchParams.has("heartbeat")) withHeartbeat.searchParams.set("heartbeat", "10");
    const connection = await amqp.connect(withHeartbeat.toString(), { timeout: 5_000, ...socketOptions });
    connection.on("error", (error: unknown) => logger.warn({ err: error }, "reference connection error"));
    try {
      const channel = await connection.createConfirmChannel();
      const open: OpenChannel = { connection, channel, gone: false };
      channel.on("error", (error: unknown) => logger.warn({ err: error }, "reference channel error"));
      // A closed channel or connection ends this session; the next send opens another.
      const forget = () => {
        open.gone = true;
        if (this.#current === open) {
          this.#current = undefined;
          this.#channel = undefined;
        }
        void connection.close().catch(() => undefined);
      };
      channel.once("close", forget);
      connection.once("close", forget);
      channel.on("return", (message: { properties: { messageId?: unknown } }) => {
        const id = message.properties.messageId;
        if (typeof id === "string") this.#returnable.get(id)?.();
      });
      await declareReferenceTopology(channel, url, deliveryLimit);
      if (open.gone) throw new Error("the reference channel closed while opening");
      this.#current = open;
      return open;
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
  }

  #acquire(timeoutMs: number): Promise<boolean> {
    if (this.#inWindow < this.#options.window) {
      this.#inWindow++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const grant = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const index = this.#waiting.indexOf(grant);
        if (index >= 0) this.#waiting.splice(index, 1);
        resolve(false);
      }, Math.max(0, timeoutMs));
      this.#waiting.push(grant);
    });
  }

  /** Hands the slot to the oldest waiting send, or frees it. */
  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#inWindow--;
  }
}
