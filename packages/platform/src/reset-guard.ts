import { constants as h2, type Http2Server } from "node:http2";
import type { Logger } from "pino";
import { H2C_SERVER_OPTIONS } from "./listener-limits.ts";

/**
 * Streams a client may open and reset within one read, before the server could act on
 * them, per HTTP/2 session: a burst, then a rate. An attacker does that; a client
 * cancelling on its deadline resets later and is left to nghttp2's own reset limit
 * (`streamResetBurst` in the h2c listener's options). A session past the budget is
 * destroyed on the spot with ENHANCE_YOUR_CALM (its calls in flight fail), so a
 * rapid-reset client (CVE-2023-44487) gets at most this many handlers started per
 * connection, plus {@link CANCELS_PER_WAIT} in each read whose frames waited unread
 * (see {@link CANCEL_MIN_AGE_MS}).
 */
export const RESET_BUDGET = { burst: 100, perSecond: 50 } as const;

/**
 * How long frames must have waited unread for the streams opened and reset among them to
 * count as cancels rather than rapid reset. A server lagging behind its clients'
 * deadlines (its event loop busy with handlers) reads a call's HEADERS together with the
 * cancel the client sent when its deadline passed, and the client's next calls with
 * them: the bytes of rapid reset, but frames that waited this long in the socket belong
 * to streams at least this old on the client's side. The wait excludes time spent
 * reading streams, which is how rapid reset itself holds the loop up.
 */
export const CANCEL_MIN_AGE_MS = 100;

/**
 * Same-read resets each session may make without spending {@link RESET_BUDGET} after
 * each wait of {@link CANCEL_MIN_AGE_MS}: one concurrency limit's worth, the streams a
 * client keeping to that limit has outstanding at once. Not more, so that a wait an
 * attacker manages to cause grants it this many at most, within nghttp2's own reset limit.
 */
export const CANCELS_PER_WAIT = H2C_SERVER_OPTIONS.settings.maxConcurrentStreams;

/** How often the event loop is sampled for being free. */
const SAMPLE_EVERY_MS = 20;

/**
 * Enforces {@link RESET_BUDGET} on every session of `server`. nghttp2 hands Node a whole
 * read at once, and a stream's 'close' fires while that read is still being processed;
 * destroying the session there stops the rest of the read, so the streams an attacker
 * packed behind the budget never reach a handler. A stream still open when the read is
 * done (setImmediate runs after it) was not reset in the same read.
 */
export function destroySessionsThatResetTooFast(server: Http2Server, logger: Logger): void {
  const reads = new ReadWaits(SAMPLE_EVERY_MS);
  server.once("close", () => reads.stop());
  server.on("session", (session) => {
    const budget = new TokenBucket(RESET_BUDGET.burst, RESET_BUDGET.perSecond);
    let streams = 0;
    let excusedRead = -1;
    let excusable = 0;
    const excused = (read: number, waitedMs: number) => {
      if (waitedMs < CANCEL_MIN_AGE_MS) return false;
      if (read !== excusedRead) [excusedRead, excusable] = [read, CANCELS_PER_WAIT];
      if (excusable < 1) return false;
      excusable -= 1;
      return true;
    };
    session.on("stream", (stream) => {
      streams += 1;
      const { read, waitedMs } = reads.streamRead();
      let sameRead = true;
      setImmediate(() => (sameRead = false));
      stream.once("close", () => {
        // A reset comes in a read; a stream the server ended closes outside one.
        if (stream.rstCode !== h2.NGHTTP2_NO_ERROR) reads.readActivity();
        // NO_ERROR: the stream ended normally; later resets are deadlines and cancels.
        if (!sameRead || stream.rstCode === h2.NGHTTP2_NO_ERROR || session.destroyed || excused(read, waitedMs) || budget.take()) return;
        logger.warn({ remoteAddress: session.socket?.remoteAddress, streams, budget: RESET_BUDGET }, "closing an HTTP/2 session that resets streams too fast");
        session.destroy(undefined, h2.NGHTTP2_ENHANCE_YOUR_CALM);
      });
    });
  });
}

/**
 * How long the frames of the read in progress may have waited unread: the time since the
 * event loop was last seen free (a timer due every `everyMs` ran on time, so the loop had
 * been waiting for input) or reading streams. Time spent in other work (handlers, timers)
 * counts as waiting. Reads are numbered, one per loop iteration that opens streams.
 */
export class ReadWaits {
  #freeAt = performance.now();
  #read = 0;
  #waitedMs = 0;
  #inRead = false;
  readonly #timer: NodeJS.Timeout;

  constructor(everyMs: number) {
    let due = performance.now() + everyMs;
    this.#timer = setInterval(() => {
      const now = performance.now();
      if (now - due < everyMs) this.#freeAt = Math.max(this.#freeAt, now);
      due = now + everyMs;
    }, everyMs);
    // Sampling never keeps the process alive.
    this.#timer.unref();
  }

  /** Called as a stream opens: the read it came in, and how long that read's frames may have waited. */
  streamRead(): { read: number; waitedMs: number } {
    this.readActivity();
    return { read: this.#read, waitedMs: this.#waitedMs };
  }

  /** Called as a stream opens or the client resets one: the loop is processing a read. */
  readActivity(): void {
    const now = performance.now();
    if (!this.#inRead) {
      // The first stream event of this loop iteration: its read's frames arrived since the loop was last free.
      this.#inRead = true;
      this.#read += 1;
      this.#waitedMs = now - this.#freeAt;
      setImmediate(() => (this.#inRead = false));
    }
    this.#freeAt = now;
  }

  /** Stops sampling. */
  stop(): void {
    clearInterval(this.#timer);
  }
}

/** A token bucket: `burst` tokens, refilled at `perSecond`. */
export class TokenBucket {
  #tokens: number;
  #refilledAt = performance.now();
  readonly #burst: number;
  readonly #perSecond: number;

  constructor(burst: number, perSecond: number) {
    this.#tokens = burst;
    this.#burst = burst;
    this.#perSecond = perSecond;
  }

  /** Takes a token; false when none is left. */
  take(): boolean {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#refilledAt) / 1000) * this.#perSecond);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
