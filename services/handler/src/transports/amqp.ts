import { connectBroker, keepSessionOpen, settleWithin, TOPOLOGY, type Readiness } from "@switchyard/platform";
import type { Work } from "@switchyard/contracts";
import type { Message } from "amqplib/callback_api";
import type { Logger } from "pino";
import type { BrokerAsPromised, BrokerConfig } from "rascal";
import { InvalidWorkError } from "../errors.ts";
import type { HandlerMetrics } from "../metrics.ts";
import type { HandleWork } from "../work.ts";
import { BodyTooLargeError, checkBodySize, decodeWorkBody } from "./amqp-body.ts";
import { openConsumerSession, type ConsumerSession, type Delivery, type Settlement } from "./amqp-session.ts";

/** What {@link AmqpConsumer} needs. */
export interface AmqpConsumerOptions {
  /** Rascal configuration holding the Contract topology; Rascal declares it and opens connections from it. */
  rascal: BrokerConfig;
  /** Unacknowledged deliveries the broker may push at once. */
  prefetch: number;
  /** Must equal the queue's `x-delivery-limit`. */
  deliveryLimit: number;
  /** MAX_PAYLOAD_BYTES: bounds the body size decoded (see `maxBodyBytes`). */
  maxPayloadBytes: number;
  /** Bound for each close step: settling in-flight messages, then the broker shutdown. */
  closeTimeoutMs: number;
  handleWork: HandleWork;
  metrics: HandlerMetrics;
  readiness: Readiness;
  logger: Logger;
}

/** Readiness condition this adapter owns. */
export const BROKER_CONDITION = "broker_subscription";

const deadLetter = (reason: string): Settlement => ({ kind: "dead-letter", reason });

/**
 * The handler's AMQP adapter: consumes the work queue and hands each decoded Work to
 * `handleWork`. Every delivery is settled exactly once, alone, on the channel that
 * delivered it: ack (handled, or a copy of work that was handled), nack-and-requeue
 * (failed, attempts left), or a copy to the dead-letter exchange with the reason in a
 * header and then ack (too large, undecodable, invalid, failed on its last allowed
 * delivery, or anything unexpected). Nothing is dropped: if that copy cannot be
 * published the message is nacked, and the queue's own dead-lettering takes it. Nothing
 * about one message can close the channel its neighbours are on; a channel or
 * connection that closes anyway (broker restart, connection dropped) ends the session,
 * and the adapter subscribes again with capped backoff while the broker requeues what
 * was not settled.
 */
export class AmqpConsumer {
  readonly #options: AmqpConsumerOptions;
  readonly #vhost: string;
  #broker: BrokerAsPromised | undefined;
  #session: ConsumerSession | undefined;
  readonly #stopping = new AbortController();
  #running: Promise<void> | undefined;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: AmqpConsumerOptions) {
    this.#options = options;
    const [vhost] = Object.keys(options.rascal.vhosts ?? {});
    if (vhost === undefined) throw new Error("the Rascal configuration declares no vhost");
    this.#vhost = vhost;
    options.readiness.require(BROKER_CONDITION);
  }

  /**
   * Connects and consumes in the background, retrying until it succeeds or
   * {@link stopConsuming} is called: a broker that is down at start must not stop the
   * RPC transports. Readiness is true exactly while consuming.
   */
  start(): void {
    this.#running ??= this.#run();
  }

  /**
   * Stops consuming and waits (each step bounded by `closeTimeoutMs`) until in-flight
   * messages are settled. What is still unsettled when the connection closes is requeued
   * by the broker: redelivered, not lost.
   */
  async stopConsuming(): Promise<void> {
    const { logger, closeTimeoutMs } = this.#options;
    this.#stopping.abort();
    // Opening a session can wait on a broker that stopped answering until the heartbeat
    // gives up: bound it like the other steps.
    if (this.#running) await settleWithin(this.#running, { logger, timeoutMs: closeTimeoutMs, what: "stopping the consumer loop" });
    const session = this.#session;
    if (session) await settleWithin(session.cancel(), { logger, timeoutMs: closeTimeoutMs, what: "cancelling the consumer" });
    await settleWithin(Promise.all(this.#inFlight), { logger, timeoutMs: closeTimeoutMs, what: "settling in-flight messages" });
  }

  /** Closes the consumer connection and the broker; call after {@link stopConsuming}. */
  async close(): Promise<void> {
    const { logger, closeTimeoutMs, readiness } = this.#options;
    await this.stopConsuming();
    const session = this.#session;
    this.#session = undefined;
    if (session) await settleWithin(session.close(), { logger, timeoutMs: closeTimeoutMs, what: "closing the consumer connection" });
    const broker = this.#broker;
    this.#broker = undefined;
    // Rascal's shutdown drains its channel pools, which never completes for channels
    // borrowed when the connection broke: bound it so a dead broker cannot hold up exit.
    if (broker) await settleWithin(broker.shutdown(), { logger, timeoutMs: closeTimeoutMs, what: "broker shutdown" });
    readiness.set(BROKER_CONDITION, false);
  }

  async #run(): Promise<void> {
    const { logger } = this.#options;
    // Rascal declares the topology here, and keeps a connection of its own for it.
    const broker = await connectBroker(this.#options.rascal, { logger, signal: this.#stopping.signal });
    if (!broker) return;
    this.#broker = broker;
    broker.on("error", (error: Error) => logger.warn({ err: error }, "broker connection error; Rascal reconnects"));
    await this.#consumeUntilStopped(broker);
  }

  /** One consumer session after another until stopped (the platform's loop owns retries and readiness). */
  async #consumeUntilStopped(broker: BrokerAsPromised): Promise<void> {
    const { readiness, logger, prefetch, closeTimeoutMs } = this.#options;
    await keepSessionOpen({
      open: () => openConsumerSession({ broker, vhost: this.#vhost, prefetch, onDelivery: (delivery) => this.#track(delivery) }),
      // Stopping keeps the live session: stopConsuming cancels it and lets in-flight messages settle.
      onSession: (session) => (this.#session = session),
      signal: this.#stopping.signal,
      readiness,
      condition: BROKER_CONDITION,
      logger,
      closeTimeoutMs,
      role: "consumer",
      target: { queue: TOPOLOGY.workQueue },
    });
  }

  #track(delivery: Delivery): void {
    const processing = this.#process(delivery).finally(() => this.#inFlight.delete(processing));
    this.#inFlight.add(processing);
  }

  async #process(delivery: Delivery): Promise<void> {
    const { metrics, logger } = this.#options;
    const { message } = delivery;
    let settlement: Settlement;
    try {
      settlement = await this.#decide(message);
    } catch (error) {
      // #decide catches what it expects; this is for what nobody expected.
      settlement = deadLetter(`unexpected error: ${errorMessage(error)}`);
    }
    const reached = await delivery.settle(settlement);
    if (settlement.kind === "dead-letter" && reached) {
      metrics.messages.inc({ transport: "amqp", outcome: "dead_lettered" });
      logger.warn({ messageId: message.properties.messageId, reason: settlement.reason }, "dead-lettered");
    }
  }

  /** How a message should end. Reads only the body, content type and `x-delivery-count`. */
  async #decide(message: Message): Promise<Settlement> {
    const { handleWork, metrics, deliveryLimit, maxPayloadBytes, logger } = this.#options;
    let work: Work;
    try {
      checkBodySize(message.content, maxPayloadBytes);
      work = decodeWorkBody(message.content, stringOrUndefined(message.properties.contentType));
    } catch (error) {
      metrics.messages.inc({ transport: "amqp", outcome: "invalid" });
      return deadLetter(error instanceof BodyTooLargeError ? error.message : `undecodable body: ${errorMessage(error)}`);
    }
    try {
      await handleWork(work, "amqp");
      return { kind: "ack" };
    } catch (error) {
      if (error instanceof InvalidWorkError) return deadLetter(`invalid work: ${error.message}`);
      const delivery = deliveryCount(message) + 1;
      if (delivery >= deliveryLimit) {
        return deadLetter(`handling failed on delivery ${delivery} of ${deliveryLimit}: ${errorMessage(error)}`);
      }
      logger.debug({ workId: work.id, delivery, err: error }, "handling failed; requeueing");
      return { kind: "requeue" };
    }
  }
}

/**
 * How many times the broker delivered this message before (quorum queues count it in
 * `x-delivery-count`). Any publisher can set headers: on a first delivery (the broker's
 * own `redelivered` flag unset) the header is the publisher's, not the broker's, and
 * counts for nothing; anything but a whole, non-negative number counts as none.
 */
function deliveryCount(message: Message): number {
  if (message.fields.redelivered !== true) return 0;
  const headers: unknown = message.properties.headers;
  if (typeof headers !== "object" || headers === null) return 0;
  const count: unknown = (headers as Record<string, unknown>)["x-delivery-count"];
  return typeof count === "number" && Number.isSafeInteger(count) && count >= 0 ? count : 0;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
