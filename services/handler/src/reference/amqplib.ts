import { keepSessionOpen, declareReferenceTopology, REFERENCE_TOPOLOGY, settleWithin, type BrokerSession, type Readiness } from "@switchyard/platform";
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from "amqplib";
import type { Logger } from "pino";
import type { HandlerMetrics } from "../metrics.ts";
import { checkBodySize, decodeWorkBody } from "../transports/amqp-body.ts";
import { InvalidWorkError } from "../errors.ts";
import type { HandleWork } from "../work.ts";

/** What {@link ReferenceAmqpConsumer} needs. */
export interface ReferenceAmqpOptions {
  url: string;
  /** Unacknowledged deliveries the broker may push at once: the work queue's prefetch. */
  prefetch: number;
  /** The queue's `x-delivery-limit`, as on the work queue. */
  deliveryLimit: number;
  /** MAX_PAYLOAD_BYTES: bounds the body size decoded, as on the work queue. */
  maxPayloadBytes: number;
  /** TLS material for an amqps:// URL, handed to amqplib as socket options. */
  socketOptions?: Record<string, unknown>;
  handleWork: HandleWork;
  metrics: HandlerMetrics;
  readiness: Readiness;
  logger: Logger;
  closeTimeoutMs: number;
}

/** Readiness condition of the reference consumer, when it is on. */
export const REFERENCE_AMQP_CONDITION = "reference_amqp_subscription";

/**
 * The AMQP reference endpoint: a raw amqplib consumer on the reference queue (declared
 * with the work queue's arguments), counted as `amqplib`, calling the same handleWork.
 * It is what a plain amqplib consumer pays, beside the Rascal-opened consumer. Every
 * delivery is settled exactly once: ack when handled (or a copy of handled work); nack
 * without requeue when it can never succeed (too large, undecodable, invalid), so the
 * queue dead-letters it; nack with requeue when handling failed, so the queue's delivery
 * limit dead-letters it after the last attempt. A lost connection is opened again with
 * the services' backoff while the broker requeues what was not settled.
 */
export class ReferenceAmqpConsumer {
  readonly #options: ReferenceAmqpOptions;
  readonly #stopping = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  #connection: ChannelModel | undefined;
  #channel: Channel | undefined;
  #consumerTag: string | undefined;
  #running: Promise<void> | undefined;

  constructor(options: ReferenceAmqpOptions) {
    this.#options = options;
    options.readiness.require(REFERENCE_AMQP_CONDITION);
  }

  /** Connects and consumes in the background, until {@link stopConsuming}. */
  start(): void {
    this.#running ??= this.#run();
  }

  /** Cancels the consumer and waits (bounded) for in-flight deliveries to settle. */
  async stopConsuming(): Promise<void> {
    const { logger, closeTimeoutMs } = this.#options;
    this.#stopping.abort();
    if (this.#running) await settleWithin(this.#running, { logger, timeoutMs: closeTimeoutMs, what: "stopping the reference consumer loop" });
    const [channel, tag] = [this.#channel, this.#consumerTag];
    this.#consumerTag = undefined;
    if (channel && tag) await settleWithin(channel.cancel(tag), { logger, timeoutMs: closeTimeoutMs, what: "cancelling the reference consumer" });
    await settleWithin(Promise.all(this.#inFlight), { logger, timeoutMs: closeTimeoutMs, what: "settling in-flight reference messages" });
  }

  /** Closes the connection; what is still unsettled goes back to the queue. */
  async close(): Promise<void> {
    const { logger, closeTimeoutMs, readiness } = this.#options;
    await this.stopConsuming();
    const connection = this.#connection;
    this.#connection = undefined;
    this.#channel = undefined;
    if (connection) await settleWithin(connection.close().catch(() => undefined), { logger, timeoutMs: closeTimeoutMs, what: "closing the reference consumer connection" });
    readiness.set(REFERENCE_AMQP_CONDITION, false);
  }

  async #run(): Promise<void> {
    const { logger, readiness, closeTimeoutMs } = this.#options;
    await keepSessionOpen({
      open: () => this.#subscribe(),
      onSession: (session) => {
        if (session) return;
        this.#connection = undefined;
        this.#channel = undefined;
      },
      signal: this.#stopping.signal,
      readiness,
      condition: REFERENCE_AMQP_CONDITION,
      logger,
      closeTimeoutMs,
      role: "reference consumer",
      target: { queue: REFERENCE_TOPOLOGY.queue },
    });
  }

  /** Opens a connection and a consumer on it; closes the connection again if any step fails. */
  async #subscribe(): Promise<BrokerSession> {
    const { url, prefetch, deliveryLimit, socketOptions } = this.#options;
    // The services' heartbeat (Rascal's connection options), in amqplib's URL form.
    const withHeartbeat = new URL(url);
    if (!withHeartbeat.searchParams.has("heartbeat")) withHeartbeat.searchParams.set("heartbeat", "10");
    const connection = await amqp.connect(withHeartbeat.toString(), { timeout: 5_000, ...socketOptions });
    this.#connection = connection;
    const close = () => connection.close().catch(() => undefined);
    const closed = new Promise<unknown>((resolve) => {
      connection.once("close", resolve);
      // An 'error' is always followed by 'close'; listening keeps it from being thrown.
      connection.on("error", () => undefined);
    });
    try {
      const channel = await connection.createChannel();
      channel.on("error", () => undefined);
      // A channel closed alone (the broker refusing an operation) ends the session too.
      channel.once("close", () => void close());
      await declareReferenceTopology(channel, url, deliveryLimit);
      await channel.prefetch(prefetch);
      this.#channel = channel;
      const { consumerTag } = await channel.consume(REFERENCE_TOPOLOGY.queue, (message) => {
        if (message) this.#track(channel, message);
      });
      this.#consumerTag = consumerTag;
    } catch (error) {
      await close();
      throw error;
    }
    return { closed, close };
  }

  #track(channel: Channel, message: ConsumeMessage): void {
    const processing = this.#process(channel, message).finally(() => this.#inFlight.delete(processing));
    this.#inFlight.add(processing);
  }

  async #process(channel: Channel, message: ConsumeMessage): Promise<void> {
    const { handleWork, metrics, maxPayloadBytes, logger } = this.#options;
    let settle: "ack" | "requeue" | "dead-letter";
    try {
      checkBodySize(message.content, maxPayloadBytes);
      const contentType = typeof message.properties.contentType === "string" ? message.properties.contentType : undefined;
      const work = decodeWorkBody(message.content, contentType);
      try {
        await handleWork(work, "amqplib");
        settle = "ack";
      } catch (error) {
        settle = error instanceof InvalidWorkError ? "dead-letter" : "requeue";
      }
    } catch {
      // Too large or undecodable: counted as invalid, as on the work queue.
      metrics.messages.inc({ transport: "amqplib", outcome: "invalid" });
      settle = "dead-letter";
    }
    try {
      if (settle === "ack") channel.ack(message);
      else channel.nack(message, false, settle === "requeue");
      if (settle === "dead-letter") metrics.messages.inc({ transport: "amqplib", outcome: "dead_lettered" });
    } catch (error) {
      // The channel closed under the delivery: the broker requeues it.
      logger.debug({ err: error, messageId: message.properties.messageId }, "could not settle; the broker requeues it");
    }
  }
}
