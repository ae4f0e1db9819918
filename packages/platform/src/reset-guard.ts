import { constants as h2, type Http2Server } from "node:http2";
import type { Logger } from "pino";

/**
 * Streams a client may open and reset within one read, before the server could act on
 * them, per HTTP/2 session: a burst, then a rate. An attacker does that; a client
 * cancelling on its deadline resets later and is left to nghttp2's own reset limit
 * (`streamResetBurst` in the h2c listener's options), unless the server lags behind its
 * deadlines so far that the open and the cancel arrive together. A session past the
 * budget is destroyed on the spot with ENHANCE_YOUR_CALM (its calls in flight fail), so
 * a rapid-reset client (CVE-2023-44487) gets at most this many handlers started per
 * connection.
 */
export const RESET_BUDGET = { burst: 100, perSecond: 50 } as const;

/**
 * Enforces {@link RESET_BUDGET} on every session of `server`. nghttp2 hands Node a whole
 * read at once, and a stream's 'close' fires while that read is still being processed;
 * destroying the session there stops the rest of the read, so the streams an attacker
 * packed behind the budget never reach a handler. A stream still open when the read is
 * done (setImmediate runs after it) was not reset in the same read.
 */
export function destroySessionsThatResetTooFast(server: Http2Server, logger: Logger): void {
  server.on("session", (session) => {
    const budget = new TokenBucket(RESET_BUDGET.burst, RESET_BUDGET.perSecond);
    let streams = 0;
    session.on("stream", (stream) => {
      streams += 1;
      let sameRead = true;
      setImmediate(() => (sameRead = false));
      stream.once("close", () => {
        // NO_ERROR: the stream ended normally; later resets are deadlines and cancels.
        if (!sameRead || stream.rstCode === h2.NGHTTP2_NO_ERROR || session.destroyed || budget.take()) return;
        logger.warn({ remoteAddress: session.socket?.remoteAddress, streams, budget: RESET_BUDGET }, "closing an HTTP/2 session that resets streams too fast");
        session.destroy(undefined, h2.NGHTTP2_ENHANCE_YOUR_CALM);
      });
    });
  });
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
