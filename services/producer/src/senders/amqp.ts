import type { Work } from "@switchyard/contracts";
import type { Sender, SendResult } from "@switchyard/measurement";
import { connectBroker, RECONNECT_BACKOFF, settleWithin, TOPOLOGY, type Readiness } from "@switchyard/platform";
import type { ConfirmChannel, Connection } from "amqplib/callback_api";
import { setTimeout as sleep } from "node:timers/promises";
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

const { min: RETRY_MIN_MS, max: RETRY_MAX_MS, factor: RETRY_FACTOR } = RECONNECT_BACKOFF;

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
  #connection: Connection | undefined;
  readonly #stopping = new AbortController();
  /** Resolves when {@link close} is called; one promise, so waiting adds no listeners. */
  readonly #stopped: Promise<void>;
  #running: Promise<void> | undefined;

  constructor(options: AmqpSenderOptions) {
    this.#options = options;
    const [vhost] = Object.keys(options.rascal.vhosts ?? {});
    if (vhost === undefined) throw new Error("the Rascal configuration declares no vhost");
    this.#vhost = vhost;
    this.#publisher = new ConfirmPublisher({ exchange: TOPOLOGY.workExchange, routingKey: TOPOLOGY.routingKey, window: options.window });
    this.#stopped = new Promise((resolve) => this.#stopping.signal.addEventListener("abort", () => resolve(), { once: true }));
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
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection) await settleWithin(closeConnection(connection), { logger, timeoutMs: CLOSE_TIMEOUT_MS, what: "closing the publishing connection" });
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

  /** One publishing connection after another, with capped backoff in between, until stopped. */
  async #publishUntilStopped(broker: BrokerAsPromised): Promise<void> {
    const { readiness, logger } = this.#options;
    const { signal } = this.#stopping;
    let retryMs: number = RETRY_MIN_MS;
    while (!signal.aborted) {
      let connection: Connection | undefined;
      try {
        // @types/rascal declares the promise API here; Rascal returns amqplib's callback API.
        connection = (await broker.connect(this.#vhost)) as unknown as Connection;
        this.#connection = connection;
        const lostConnection = connectionClosed(connection);
        const channel = await callback<ConfirmChannel>((done) => connection!.createConfirmChannel(done));
        connection.on("blocked", (reason: unknown) => logger.warn({ reason }, "broker blocked publishing"));
        // Closed while opening: close() may already have looked for a connection to close.
        if (signal.aborted) {
          await closeConnection(connection);
          return;
        }
        const lostChannel = this.#publisher.attach(channel as unknown as PublishingChannel);
        retryMs = RETRY_MIN_MS;
        readiness.set(PUBLISHER_CONDITION, true);
        logger.info({ exchange: TOPOLOGY.workExchange }, "publishing to the broker");
        const lost = await Promise.race([lostChannel, lostConnection, this.#stopped]);
        if (signal.aborted) return;
        readiness.set(PUBLISHER_CONDITION, false);
        logger.warn({ err: lost, retryInMs: retryMs }, "publishing connection lost; connecting again");
      } catch (error) {
        readiness.set(PUBLISHER_CONDITION, false);
        logger.warn({ err: error, retryInMs: retryMs }, "could not open a publishing channel; retrying");
      }
      if (connection) {
        if (this.#connection === connection) this.#connection = undefined;
        // Usually closed already; a half-open connection must not stall the retries.
        await settleWithin(closeConnection(connection), { logger, timeoutMs: CLOSE_TIMEOUT_MS, what: "closing the lost publishing connection" });
      }
      await sleep(retryMs, undefined, { signal }).catch(() => undefined);
      retryMs = Math.min(retryMs * RETRY_FACTOR, RETRY_MAX_MS);
    }
  }
}

/** Resolves (never rejects) when `connection` errors or closes. */
function connectionClosed(connection: Connection): Promise<Error | undefined> {
  return new Promise((resolve) => {
    // Without an 'error' listener an amqplib error event would be thrown and end the process.
    connection.on("error", (error: Error) => resolve(error));
    connection.on("close", (error?: Error) => resolve(error));
  });
}

/** Closes `connection`; resolves once closed, or at once when it already was. */
function closeConnection(connection: Connection): Promise<void> {
  return new Promise((resolve) => {
    try {
      connection.close(() => resolve());
    } catch {
      resolve(); // already closing or closed
    }
  });
}

/** Runs a Node-style callback operation as a promise; a synchronous throw rejects it too. */
function callback<T = unknown>(operation: (done: (error: unknown, value?: T) => void) => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      operation((error, value) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(value as T)));
    } catch (error) {
      reject(error);
    }
  });
}
