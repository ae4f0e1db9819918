import { connectBroker, settleWithin, TOPOLOGY, type Readiness } from "@switchyard/platform";
import type { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type { AckOrNack, BrokerAsPromised, BrokerConfig, SubscriberSessionAsPromised } from "rascal";
import type { Message } from "amqplib";
import { InvalidWorkError } from "../errors.ts";
import type { HandlerMetrics } from "../metrics.ts";
import type { HandleWork } from "../work.ts";
import { decodeWorkBody } from "./amqp-body.ts";

/** What {@link AmqpConsumer} needs. */
export interface AmqpConsumerOptions {
  /** Rascal configuration holding the Contract topology and the `work` subscription. */
  rascal: BrokerConfig;
  /** Must equal the queue's `x-delivery-limit`. */
  deliveryLimit: number;
  /** Bound for each close step: settling in-flight messages, then the broker shutdown. */
  closeTimeoutMs: number;
  handleWork: HandleWork;
  metrics: HandlerMetrics;
  readiness: Readiness;
  logger: Logger;
}

/** Readiness condition this adapter owns. */
export const BROKER_CONDITION = "broker_subscription";

/**
 * The handler's AMQP adapter: consumes the work queue through Rascal and hands each
 * decoded Work to `handleWork`. Every delivery ends in exactly one of: ack (handled or
 * duplicate), nack-and-requeue (failed, attempts left), or forward to the dead-letter
 * exchange with the reason in a header and then ack (undecodable, invalid, or failed on
 * its last allowed delivery). Nothing is dropped: if the forward itself fails the message
 * is nacked, and the queue's own dead-lettering takes it.
 */
export class AmqpConsumer {
  readonly #options: AmqpConsumerOptions;
  #broker: BrokerAsPromised | undefined;
  #subscription: SubscriberSessionAsPromised | undefined;
  readonly #stopping = new AbortController();
  #connecting: Promise<void> | undefined;

  constructor(options: AmqpConsumerOptions) {
    this.#options = options;
    options.readiness.require(BROKER_CONDITION);
  }

  /**
   * Connects and subscribes in the background, retrying until it succeeds or `stop` is
   * called: a broker that is down at start must not stop the RPC transports. Once
   * connected, Rascal reconnects the connection and this adapter resubscribes.
   */
  start(): void {
    this.#connecting ??= this.#connectUntilStopped();
  }

  /** Stops consuming, waiting (bounded by `closeTimeoutMs`) for in-flight messages to be settled. */
  async stopConsuming(): Promise<void> {
    this.#stopping.abort();
    await this.#connecting;
    const subscription = this.#subscription;
    this.#subscription = undefined;
    // Cancelling waits for in-flight messages to be settled (Rascal's closeTimeout). What
    // is still unacknowledged when the channel closes is requeued by the broker, so it is
    // redelivered, not lost; the outer bound covers a connection that is already dead.
    if (subscription) {
      await settleWithin(subscription.cancel(), { logger: this.#options.logger, timeoutMs: this.#options.closeTimeoutMs, what: "cancelling the subscription" });
    }
  }

  /** Closes the broker connection; call after {@link stopConsuming}. */
  async close(): Promise<void> {
    await this.stopConsuming();
    const broker = this.#broker;
    this.#broker = undefined;
    // Rascal's shutdown drains its channel pools, which never completes for channels
    // borrowed when the connection broke: bound it so a dead broker cannot hold up exit.
    if (broker) await settleWithin(broker.shutdown(), { logger: this.#options.logger, timeoutMs: this.#options.closeTimeoutMs, what: "broker shutdown" });
    this.#options.readiness.set(BROKER_CONDITION, false);
  }

  async #connectUntilStopped(): Promise<void> {
    const { readiness, logger } = this.#options;
    const broker = await connectBroker(this.#options.rascal, { logger, signal: this.#stopping.signal });
    if (!broker) return;
    this.#broker = broker;
    broker.on("error", (error: Error) => {
      readiness.set(BROKER_CONDITION, false);
      logger.warn({ err: error }, "broker connection error; Rascal reconnects");
    });
    broker.on("disconnect", () => readiness.set(BROKER_CONDITION, false));
    await this.#subscribe(broker, 500);
  }

  /**
   * Subscribes, and on losing the subscription subscribes again with capped backoff.
   * Rascal can resubscribe by itself, but says nothing when that succeeds; doing it here
   * means 'subscribed' marks every recovery, so readiness is true exactly while consuming.
   */
  async #subscribe(broker: BrokerAsPromised, retryMs: number): Promise<void> {
    const { readiness, logger } = this.#options;
    if (this.#stopping.signal.aborted) return;
    const session = await broker.subscribe("work", { retry: false });
    this.#subscription = session;
    let lost = false;
    const onLost = (error?: Error) => {
      // Our own cancel at shutdown closes the session too: that is no loss.
      if (lost || this.#stopping.signal.aborted) return;
      lost = true;
      readiness.set(BROKER_CONDITION, false);
      logger.warn({ err: error, retryInMs: retryMs }, "subscription lost; subscribing again");
      if (this.#subscription === session) this.#subscription = undefined;
      session.cancel().catch(() => undefined);
      setTimeout(() => {
        this.#subscribe(broker, Math.min(retryMs * 2, 5000)).catch((cause: unknown) =>
          logger.error({ err: cause }, "could not subscribe"),
        );
      }, retryMs).unref();
    };
    // Rascal emits 'subscribed' and 'close'; its types omit them.
    const events = session as unknown as EventEmitter;
    events.on("subscribed", () => {
      retryMs = 500;
      readiness.set(BROKER_CONDITION, true);
      logger.info({ queue: TOPOLOGY.workQueue }, "consuming");
    });
    events.on("close", () => onLost());
    session
      .on("error", (error: Error) => onLost(error))
      .on("cancelled", (error: Error) => onLost(error))
      .on("invalid_content", (error: Error, message: Message, ackOrNack: AckOrNack) => {
        this.#deadLetter(message, ackOrNack, `undecodable body: ${error.message}`, "invalid");
      })
      // Adding the 'message' listener is what makes Rascal start consuming: keep it last.
      .on("message", (message: Message, _content: unknown, ackOrNack: AckOrNack) => {
        void this.#onMessage(message, ackOrNack);
      });
  }

  async #onMessage(message: Message, ackOrNack: AckOrNack): Promise<void> {
    const { handleWork, metrics, deliveryLimit, logger } = this.#options;
    let work;
    try {
      work = decodeWorkBody(message.content, message.properties.contentType);
    } catch (error) {
      metrics.messages.inc({ transport: "amqp", outcome: "invalid" });
      this.#deadLetter(message, ackOrNack, `undecodable body: ${(error as Error).message}`);
      return;
    }
    try {
      await handleWork(work, "amqp");
      ackOrNack();
    } catch (error) {
      if (error instanceof InvalidWorkError) {
        this.#deadLetter(message, ackOrNack, `invalid work: ${error.message}`);
        return;
      }
      const delivery = deliveryCount(message) + 1;
      if (delivery >= deliveryLimit) {
        this.#deadLetter(message, ackOrNack, `handling failed on delivery ${delivery} of ${deliveryLimit}: ${(error as Error).message}`);
        return;
      }
      logger.debug({ workId: work.id, delivery, err: error }, "handling failed; requeueing");
      ackOrNack(error as Error, { strategy: "nack", requeue: true });
    }
  }

  #deadLetter(message: Message, ackOrNack: AckOrNack, reason: string, countAs?: "invalid"): void {
    const { metrics, logger } = this.#options;
    if (countAs) metrics.messages.inc({ transport: "amqp", outcome: countAs });
    metrics.messages.inc({ transport: "amqp", outcome: "dead_lettered" });
    logger.warn({ messageId: message.properties.messageId, reason }, "dead-lettering");
    const error = Object.assign(new Error(reason), { code: "switchyard_dead_lettered" });
    ackOrNack(error, [
      {
        strategy: "forward",
        publication: "dead_letter",
        options: { options: { headers: { [TOPOLOGY.reasonHeader]: reason.slice(0, 1024) } } },
      },
      // If the forward fails, nack without requeue: the queue's dead-lettering takes it.
      { strategy: "nack" },
    ]);
  }
}

/** How many times the broker delivered this message before (quorum queues count it). */
function deliveryCount(message: Message): number {
  const count = Number(message.properties.headers?.["x-delivery-count"] ?? 0);
  return Number.isFinite(count) ? count : 0;
}
