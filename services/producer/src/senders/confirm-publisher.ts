import { toBinary } from "@bufbuild/protobuf";
import { WorkSchema, type Work } from "@switchyard/contracts";
import type { Outcome, SendResult } from "@switchyard/measurement";
import { TOPOLOGY } from "@switchyard/platform";

/** The AMQP `content_type` of every published Work. */
export const WORK_CONTENT_TYPE = "application/x-protobuf";

/** amqplib's message for a nack; a channel that closed first calls back with another. */
const NACKED_MESSAGE = "message nacked";

/**
 * What a confirm channel of either amqplib API offers (the callback API's, as Rascal's
 * connections hand out, and the promise API's): publish with a confirm callback, and
 * `return` / `close` / `error` events.
 */
export interface PublishingChannel {
  publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Record<string, unknown>,
    callback: (error: unknown) => void,
  ): boolean;
  on(event: "return", listener: (message: { properties: { messageId?: unknown } }) => void): unknown;
  on(event: "close" | "error", listener: (error?: unknown) => void): unknown;
}

/** Where {@link ConfirmPublisher} sends and how many confirms it awaits at once. */
export interface ConfirmPublisherOptions {
  exchange: string;
  routingKey: string;
  /** Most publishes awaiting their confirm at once. */
  window: number;
}

/** One attached channel; `gone` once it closed. */
interface Attached {
  readonly channel: PublishingChannel;
  /** Sends awaiting their confirm on this channel, by Work id, so a basic.return finds its send. */
  readonly returnable: Map<string, () => void>;
  gone: boolean;
}

/**
 * The publish core both AMQP senders share: Work as binary protobuf on a confirm
 * channel with the Contract's properties (persistent, mandatory, `message_id`,
 * `content_type`, `type`, `timestamp`), at most `window` publishes awaiting their
 * confirm, and each send resolved by its own confirm: `ok`, `nacked` (the broker
 * refused it, e.g. the queue is full), `returned` (no queue bound), `timeout` (no
 * confirm in time on a live channel) or `unavailable` (no channel, or it closed before
 * the confirm). Never rejects. The senders differ only in how they get a channel
 * ({@link attach}) and which exchange they name.
 */
export class ConfirmPublisher {
  readonly #options: ConfirmPublisherOptions;
  readonly #window: Semaphore;
  #current: Attached | undefined;
  readonly #waitingForChannel = new Set<() => void>();

  constructor(options: ConfirmPublisherOptions) {
    this.#options = options;
    this.#window = new Semaphore(options.window);
  }

  /** Whether a channel is attached and open now. */
  get ready(): boolean {
    return this.#current !== undefined;
  }

  /**
   * Publishes on `channel` from now on. Resolves (never rejects) when it closes or
   * fails; its publishes awaiting a confirm then end `unavailable`, and sends wait (up
   * to their timeout) for the next attached channel.
   */
  attach(channel: PublishingChannel): Promise<Error | undefined> {
    const attached: Attached = { channel, returnable: new Map(), gone: false };
    const closed = new Promise<Error | undefined>((resolve) => {
      const gone = (error?: unknown) => {
        attached.gone = true;
        if (this.#current === attached) this.#current = undefined;
        resolve(error instanceof Error ? error : undefined);
      };
      // An 'error' without a listener would be thrown and end the process.
      channel.on("error", gone);
      channel.on("close", gone);
    });
    // The broker sends basic.return before the confirm of an unroutable message.
    channel.on("return", (message) => {
      const id = message.properties.messageId;
      if (typeof id === "string") attached.returnable.get(id)?.();
    });
    this.#current = attached;
    for (const wake of this.#waitingForChannel) wake();
    this.#waitingForChannel.clear();
    return closed;
  }

  /** Encodes and publishes `work`; the wait for a channel and a window slot counts against `timeoutMs`. */
  async send(work: Work, timeoutMs: number): Promise<SendResult> {
    const body = toBinary(WorkSchema, work);
    const bytes = body.byteLength;
    const deadline = performance.now() + timeoutMs;
    if (!this.#current && !(await this.#waitForChannel(timeoutMs))) return { outcome: "unavailable", bytes };
    // A free slot is taken without a promise: this is the per-message path.
    if (!this.#window.tryAcquire() && !(await this.#window.acquire(deadline - performance.now()))) {
      return { outcome: this.#current ? "timeout" : "unavailable", bytes };
    }
    try {
      const attached = this.#current;
      if (!attached) return { outcome: "unavailable", bytes };
      return { outcome: await this.#publish(attached, work, body, deadline), bytes };
    } finally {
      this.#window.release();
    }
  }

  #publish(attached: Attached, work: Work, body: Uint8Array, deadline: number): Promise<Outcome> {
    const { exchange, routingKey } = this.#options;
    return new Promise((resolve) => {
      let done = false;
      let returned = false;
      const finish = (outcome: Outcome) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        attached.returnable.delete(work.id);
        resolve(outcome);
      };
      // Whole milliseconds: Node keeps a timer list per distinct duration, and a
      // fractional one would make a new list for nearly every message.
      const timer = setTimeout(() => finish(attached.gone ? "unavailable" : "timeout"), Math.max(1, Math.ceil(deadline - performance.now())));
      attached.returnable.set(work.id, () => {
        returned = true;
      });
      try {
        attached.channel.publish(
          exchange,
          routingKey,
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
          // amqplib calls back with an error for a nack, and with another for a channel
          // that closed first; it does the latter before the channel's 'close' reaches
          // our listener, so the message tells them apart, not `gone`.
          (error: unknown) => {
            if (!error) finish(returned ? "returned" : "ok");
            else finish(error instanceof Error && error.message === NACKED_MESSAGE ? "nacked" : "unavailable");
          },
        );
      } catch {
        // amqplib throws when the channel is closing or closed.
        finish("unavailable");
      }
    });
  }

  /** Resolves true once a channel is attached, or false after `timeoutMs`. */
  #waitForChannel(timeoutMs: number): Promise<boolean> {
    if (this.#current) return Promise.resolve(true);
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waitingForChannel.delete(wake);
        resolve(false);
      }, Math.ceil(timeoutMs));
      this.#waitingForChannel.add(wake);
    });
  }
}

/** A counting semaphore whose acquire gives up after a timeout. */
class Semaphore {
  #free: number;
  readonly #waiters: Array<{ grant: () => void }> = [];

  constructor(permits: number) {
    this.#free = permits;
  }

  /** Takes a permit if one is free now. */
  tryAcquire(): boolean {
    if (this.#free === 0) return false;
    this.#free--;
    return true;
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
      }, Math.ceil(timeoutMs));
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
