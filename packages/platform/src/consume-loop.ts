import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { settleWithin } from "./broker.ts";
import type { Readiness } from "./readiness.ts";
import { RECONNECT_BACKOFF } from "./topology.ts";

/** One consumer subscription, from its opening until its connection or channel ends. */
export interface ConsumingSession {
  /** Resolves (never rejects) once the session's connection or channel has closed, with why. */
  closed: Promise<unknown>;
  /** Closes what the session opened; bounded by the caller. */
  close(): Promise<void>;
}

/** What {@link consumeUntilStopped} needs. */
export interface ConsumeLoopOptions<S extends ConsumingSession> {
  /** Opens a session; on failure it must close whatever it opened before throwing. */
  open(): Promise<S>;
  /** Called with each session once it consumes, and with undefined once it is lost. */
  onSession(session: S | undefined): void;
  /** Aborted by the owner's stopConsuming: the loop returns, keeping the live session for the owner to cancel and drain. */
  signal: AbortSignal;
  readiness: Readiness;
  /** The readiness condition this loop owns: true exactly while a session consumes. */
  condition: string;
  logger: Logger;
  /** Bound on closing a lost session (a half-open connection must not stall the retries). */
  closeTimeoutMs: number;
  /** What is consumed, for the logs. */
  queue: string;
}

/**
 * Keeps one consumer session open until `signal` aborts: opens it, marks the condition
 * ready while it consumes, and when it ends (broker restart, connection dropped, a
 * channel closed by the broker) opens another after the services' backoff
 * ({@link RECONNECT_BACKOFF}, reset once consuming), so every broker connection in
 * switchyard comes back on the same schedule. Each consumer owns how it opens a session
 * and settles deliveries; the loop owns retrying and readiness.
 */
export async function consumeUntilStopped<S extends ConsumingSession>(options: ConsumeLoopOptions<S>): Promise<void> {
  const { open, onSession, signal, readiness, condition, logger, closeTimeoutMs, queue } = options;
  const stopped = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  let retryMs: number = RECONNECT_BACKOFF.min;
  while (!signal.aborted) {
    try {
      const session = await open();
      onSession(session);
      retryMs = RECONNECT_BACKOFF.min;
      readiness.set(condition, true);
      logger.info({ queue }, "consuming");
      const lost = await Promise.race([session.closed, stopped]);
      if (signal.aborted) return;
      readiness.set(condition, false);
      logger.warn({ err: lost, retryInMs: retryMs }, "consumer connection lost; subscribing again");
      onSession(undefined);
      await settleWithin(session.close(), { logger, timeoutMs: closeTimeoutMs, what: "closing the lost consumer connection" });
    } catch (error) {
      readiness.set(condition, false);
      logger.warn({ err: error, retryInMs: retryMs }, "could not subscribe; retrying");
    }
    await sleep(retryMs, undefined, { signal }).catch(() => undefined);
    retryMs = Math.min(retryMs * RECONNECT_BACKOFF.factor, RECONNECT_BACKOFF.max);
  }
}
