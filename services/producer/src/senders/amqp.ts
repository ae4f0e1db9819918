import { toBinary } from "@bufbuild/protobuf";
import { WorkSchema, type Work } from "@switchyard/contracts";
import type { Outcome, Sender, SendResult } from "@switchyard/measurement";
import { connectBroker, settleWithin, type Readiness } from "@switchyard/platform";
import type { Logger } from "pino";
import type { BrokerAsPromised, BrokerConfig, PublicationSession } from "rascal";

/** What {@link AmqpSender} needs. */
export interface AmqpSenderOptions {
  /** Rascal configuration holding the Contract topology and the `work` publication. */
  rascal: BrokerConfig;
  /**
   * Most publishes awaiting their confirm at once. Rascal holds a pooled confirm
   * channel from publish until confirm, so the pool must be at least this large for
   * the window to be reached.
   */
  window: number;
  readiness: Readiness;
  logger: Logger;
}

/** Readiness condition this adapter owns. */
export const PUBLISHER_CONDITION = "broker_publisher";

/** Longest close() waits for Rascal's shutdown. */
const CLOSE_TIMEOUT_MS = 3_000;

/** The AMQP `content_type` of every published Work. */
export const WORK_CONTENT_TYPE = "application/x-protobuf";

/**
 * AMQP 0-9-1 through Rascal's `work` publication: binary protobuf body, persistent,
 * mandatory, publisher confirms. Publishes are pipelined: up to `window` may await
 * their confirm at once, and a send resolves when its own confirm (or nack, return or
 * timeout) arrives. Outcomes: `ok`, `nacked` (the broker refused it, e.g. the queue is
 * full), `returned` (no queue bound), `timeout` (no confirm in time while connected)
 * and `unavailable` (no connection, or it broke before the confirm).
 */
export class AmqpSender implements Sender {
  readonly transport = "amqp" as const;
  readonly #options: AmqpSenderOptions;
  readonly #window: Semaphore;
  #broker: BrokerAsPromised | undefined;
  #connected = false;
  readonly #stopping = new AbortController();
  #connecting: Promise<void> | undefined;
  readonly #waitingForConnection = new Set<() => void>();

  constructor(options: AmqpSenderOptions) {
    this.#options = options;
    this.#window = new Semaphore(options.window);
    options.readiness.require(PUBLISHER_CONDITION);
  }

  /**
   * Connects in the background, retrying until it succeeds or `close` is called: a
   * broker that is down must not stop the RPC transports. Once connected, Rascal
   * reconnects on its own.
   */
  start(): void {
    this.#connecting ??= this.#connectUntilStopped();
  }

  /** Whether a broker connection is up now. */
  get connected(): boolean {
    return this.#connected;
  }

  async send(work: Work, timeoutMs: number): Promise<SendResult> {
    const body = toBinary(WorkSchema, work);
    const bytes = body.byteLength;
    const deadline = performance.now() + timeoutMs;
    // Waiting for a connection or a window slot counts against the send's own timeout.
    if (!this.#connected && !(await this.#waitForConnection(timeoutMs))) return { outcome: "unavailable", bytes };
    if (!(await this.#window.acquire(deadline - performance.now()))) {
      return { outcome: this.#connected ? "timeout" : "unavailable", bytes };
    }
    try {
      return { outcome: await this.#publish(work, body, deadline), bytes };
    } finally {
      this.#window.release();
    }
  }

  async #publish(work: Work, body: Uint8Array, deadline: number): Promise<Outcome> {
    const broker = this.#broker;
    const remaining = Math.max(1, Math.ceil(deadline - performance.now()));
    if (!broker || !this.#connected) return "unavailable";
    let session: PublicationSession;
    try {
      session = await broker.publish("work", Buffer.from(body.buffer, body.byteOffset, body.byteLength), {
        // Rascal's own confirm timeout; ours below also covers waiting for a channel.
        timeout: remaining,
        options: {
          messageId: work.id,
          contentType: WORK_CONTENT_TYPE,
          // AMQP timestamps are whole seconds.
          timestamp: Math.floor(Date.now() / 1000),
        },
      } as never);
    } catch {
      return "unavailable";
    }
    return new Promise<Outcome>((resolve) => {
      let returned = false;
      const timer = setTimeout(() => {
        // Not yet published (no channel came free): make sure it never is.
        session.abort();
        finish(this.#connected ? "timeout" : "unavailable");
      }, remaining);
      const finish = (outcome: Outcome) => {
        clearTimeout(timer);
        session.removeAllListeners();
        // A late event must find a listener: an unhandled 'error' would throw.
        session.on("error", () => {});
        resolve(outcome);
      };
      session
        .on("return", () => {
          // The broker sends basic.return before the confirm of an unroutable message.
          returned = true;
        })
        .on("success", () => finish(returned ? "returned" : "ok"))
        .on("error", (error: Error) => {
          if (/nack/i.test(error.message)) finish("nacked");
          else if (/timedout/i.test(error.message)) finish(this.#connected ? "timeout" : "unavailable");
          else finish("unavailable");
        });
      // Rascal emits 'close' when the channel closes before the confirm; its types omit it.
      (session as unknown as NodeJS.EventEmitter).on("close", () => finish("unavailable"));
    });
  }

  /** Stops reconnecting and closes the connection; publishes in flight fail. */
  async close(): Promise<void> {
    this.#stopping.abort();
    await this.#connecting;
    const broker = this.#broker;
    this.#broker = undefined;
    this.#setConnected(false);
    if (!broker) return;
    // Rascal's shutdown drains its channel pool, which never completes for channels that
    // were borrowed when the connection broke; bound it so a dead broker cannot hold up exit.
    await settleWithin(broker.shutdown(), { logger: this.#options.logger, timeoutMs: CLOSE_TIMEOUT_MS, what: "broker shutdown" });
  }

  #setConnected(connected: boolean): void {
    this.#connected = connected;
    this.#options.readiness.set(PUBLISHER_CONDITION, connected);
    if (connected) {
      for (const wake of this.#waitingForConnection) wake();
      this.#waitingForConnection.clear();
    }
  }

  /** Resolves true once connected, or false after `timeoutMs`. */
  #waitForConnection(timeoutMs: number): Promise<boolean> {
    if (this.#connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waitingForConnection.delete(wake);
        resolve(false);
      }, timeoutMs);
      this.#waitingForConnection.add(wake);
    });
  }

  async #connectUntilStopped(): Promise<void> {
    const { logger } = this.#options;
    const broker = await connectBroker(this.#options.rascal, { logger, signal: this.#stopping.signal });
    if (!broker) return;
    this.#broker = broker;
    broker.on("error", (error: Error) => {
      this.#setConnected(false);
      logger.warn({ err: error }, "broker error; Rascal reconnects");
    });
    broker.on("disconnect", () => this.#setConnected(false));
    broker.on("connect", () => this.#setConnected(true));
    broker.on("blocked", (reason: unknown) => logger.warn({ reason }, "broker blocked publishing"));
    this.#setConnected(true);
    logger.info("publishing to the broker");
  }
}

/** A counting semaphore whose acquire gives up after a timeout. */
class Semaphore {
  #free: number;
  readonly #waiters: Array<{ grant: () => void }> = [];

  constructor(permits: number) {
    this.#free = permits;
  }

  /** Resolves true with a permit, or false when none came free within `timeoutMs`. */
  acquire(timeoutMs: number): Promise<boolean> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(true);
    }
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter = {
        grant: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        resolve(false);
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Returns a permit, handing it straight to the longest waiter if there is one. */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next.grant();
    else this.#free++;
  }
}
