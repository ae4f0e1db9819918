import type { Work } from "@switchyard/contracts";
import type { Sender, SendResult } from "@switchyard/measurement";
import { callback, connectBroker, keepSessionOpen, openRascalConnection, settleWithin, TOPOLOGY, type BrokerSession, type Readiness } from "@switchyard/platform";
import type { ConfirmChannel } from "amqplib/callback_api";
import type { Logger } from "pino";
import type { BrokerAsPromised, BrokerConfig } from "rascal";
import { ConfirmPublisher, type PublishingChannel } from "./confirm-publisher.ts";

export { WORK_CONTENT_TYPE } from "./confirm-publisher.ts";

/** What {@link AmqpSender} needs. */
export interface AmqpSenderOptions {
  /** Rascal configuration holding the Contract topology; Rascal declares it and opens the connection from it. */
  rascal: BrokerConfig;
  /** Most publishes awaiting their confirm at once, all on one confirm channel. */
  window: number;
  readiness: Readiness;
  logger: Logger;
}

/** Readiness condition this adapter owns. */
export const PUBLISHER_CONDITION = "broker_publisher";

/** Longest each close step (the publishing connection, Rascal's shutdown) waits. */
const CLOSE_TIMEOUT_MS = 3_000;

/**
 * AMQP 0-9-1 to the Contract's work exchange: binary protobuf body, persistent,
 * mandatory, publisher confirms, up to `window` publishes awaiting their confirm at
 * once (see {@link ConfirmPublisher} for the outcomes).
 *
 * Why not a Rascal publication: Rascal's publish path deep-merges the publication's
 * configuration into a fresh object, borrows a confirm channel from its pool (held
 * until the confirm, so the pool caps the window), and builds debug-log arguments, on
 * every message. Measured with `npm run bench` (group AMQP, 64 B, quorum queue, window
 * 128): 2.5–3.5× the producer CPU per message of raw amqplib and ~0.4× its throughput,
 * most of it inside that path (docs/performance.md has the profile). So Rascal declares
 * the topology and opens the connection from the service's broker configuration (URL,
 * TLS, heartbeat), as for the handler's consumer, and the sender publishes with amqplib
 * on one confirm channel of that connection. A lost connection or channel fails the
 * publishes awaiting a confirm with `unavailable` and opens a new one with the shared
 * backoff; readiness is true exactly while a channel is open.
 */
export class AmqpSender implements Sender {
  readonly transport = "amqp" as const;
  readonly #options: AmqpSenderOptions;
  readonly #vhost: string;
  readonly #publisher: ConfirmPublisher;
  #broker: BrokerAsPromised | undefined;
  /** Closes the publishing connection, while one is open or opening. */
  #closeConnection: (() => Promise<void>) | undefined;
  readonly #stopping = new AbortController();
  #running: Promise<void> | undefined;

  constructor(options: AmqpSenderOptions) {
    this.#options = options;
    const [vhost] = Object.keys(options.rascal.vhosts ?? {});
    if (vhost === undefined) throw new Error("the Rascal configuration declares no vhost");
    this.#vhost = vhost;
    this.#publisher = new ConfirmPublisher({ exchange: TOPOLOGY.workExchange, routingKey: TOPOLOGY.routingKey, window: options.window });
    options.readiness.require(PUBLISHER_CONDITION);
  }

  /**
   * Connects in the background, retrying until it succeeds or `close` is called: a
   * broker that is down must not stop the RPC transports.
   */
  start(): void {
    this.#running ??= this.#run();
  }

  /** Whether a confirm channel is open now. */
  get connected(): boolean {
    return this.#publisher.ready;
  }

  send(work: Work, timeoutMs: number): Promise<SendResult> {
    return this.#publisher.send(work, timeoutMs);
  }

  /** Stops reconnecting and closes the connections; publishes in flight end `unavailable`. */
  async close(): Promise<void> {
    const { logger, readiness } = this.#options;
    this.#stopping.abort();
    if (this.#running) await settleWithin(this.#running, { logger, timeoutMs: CLOSE_TIMEOUT_MS, what: "stopping the publisher loop" });
    const closeConnection = this.#closeConnection;
    this.#closeConnection = undefined;
    if (closeConnection) await settleWithin(closeConnection(), { logger, timeoutMs: CLOSE_TIMEOUT_MS, what: "closing the publishing connection" });
    readiness.set(PUBLISHER_CONDITION, false);
    const broker = this.#broker;
    this.#broker = undefined;
    // Rascal's shutdown drains its channel pool, which never completes for channels that
    // were borrowed when the connection broke; bound it so a dead broker cannot hold up exit.
    if (broker) await settleWithin(broker.shutdown(), { logger, timeoutMs: CLOSE_TIMEOUT_MS, what: "broker shutdown" });
  }

  async #run(): Promise<void> {
    const { logger } = this.#options;
    // Rascal declares (or checks) the topology here, and keeps a connection of its own for it.
    const broker = await connectBroker(this.#options.rascal, { logger, signal: this.#stopping.signal });
    if (!broker) return;
    this.#broker = broker;
    broker.on("error", (error: Error) => logger.warn({ err: error }, "broker connection error; Rascal reconnects"));
    await this.#publishUntilStopped(broker);
  }

  /** One publishing session after another until stopped (the platform's loop owns retries and readiness). */
  async #publishUntilStopped(broker: BrokerAsPromised): Promise<void> {
    const { readiness, logger } = this.#options;
    await keepSessionOpen({
      open: () => this.#openChannel(broker),
      onSession: (session) => {
        if (!session) this.#closeConnection = undefined;
      },
      signal: this.#stopping.signal,
      readiness,
      condition: PUBLISHER_CONDITION,
      logger,
      closeTimeoutMs: CLOSE_TIMEOUT_MS,
      role: "publisher",
      target: { exchange: TOPOLOGY.workExchange },
    });
  }

  /** Opens a connection through Rascal and a confirm channel on it for the publisher; closes the connection if the channel cannot be opened. */
  async #openChannel(broker: BrokerAsPromised): Promise<BrokerSession> {
    const { logger } = this.#options;
    const { connection, closed, close } = await openRascalConnection(broker, this.#vhost);
    // Known before the channel opens, so close() can end a connection still opening.
    this.#closeConnection = close;
    try {
      const channel = await callback<ConfirmChannel>((done) => connection.createConfirmChannel(done));
      connection.on("blocked", (reason: unknown) => logger.warn({ reason }, "broker blocked publishing"));
      const lostChannel = this.#publisher.attach(channel as unknown as PublishingChannel);
      return { closed: Promise.race([lostChannel, closed]), close };
    } catch (error) {
      this.#closeConnection = undefined;
      // A half-open connection must not stall the retries.
      await settleWithin(close(), { logger, timeoutMs: CLOSE_TIMEOUT_MS, what: "closing the publishing connection" });
      throw error;
    }
  }
}
