import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { settleWithin } from "./broker.ts";
import type { Readiness } from "./readiness.ts";
import { RECONNECT_BACKOFF } from "./topology.ts";

/** One broker session (a consumer's subscription, a publisher's channel), from its opening until its connection or channel ends. */
export interface BrokerSession {
  /** Resolves (never rejects) once the session's connection or channel has closed, with why. */
  closed: Promise<unknown>;
  /** Closes what the session opened; bounded by the caller. */
  close(): Promise<void>;
}

/** What {@link keepSessionOpen} needs. */
export interface SessionLoopOptions<S extends BrokerSession> {
  /** Opens a session; on failure it must close whatever it opened before throwing. */
  open(): Promise<S>;
  /** Called with each session once it is open, and with undefined once it is lost. */
  onSession(session: S | undefined): void;
  /** Aborted by the owner's stop: the loop returns, keeping the live session for the owner to drain and close. */
  signal: AbortSignal;
  readiness: Readiness;
  /** The readiness condition this loop owns: true exactly while a session is open. */
  condition: string;
  logger: Logger;
  /** Bound on closing a lost session (a half-open connection must not stall the retries). */
  closeTimeoutMs: number;
  /** What the session does, for the logs: "consumer", "publisher". */
  role: string;
  /** Where, for the logs: the queue or exchange. */
  target: Record<string, string>;
}

/**
 * Keeps one broker session open until `signal` aborts: opens it, marks the condition ready
 * while it is open, and when it ends (broker restart, connection dropped, a channel closed
 * by the broker) opens another after the services' backoff ({@link RECONNECT_BACKOFF},
 * reset once open), so every broker connection in switchyard comes back on the same
 * schedule. Each owner keeps how it opens a session and what it does with one; the loop
 * owns retrying and readiness.
 */
export async function keepSessionOpen<S extends BrokerSession>(options: SessionLoopOptions<S>): Promise<void> {
  const { open, onSession, signal, readiness, condition, logger, closeTimeoutMs, role, target } = options;
  const stopped = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  let retryMs: number = RECONNECT_BACKOFF.min;
  while (!signal.aborted) {
    try {
      const session = await open();
      onSession(session);
      retryMs = RECONNECT_BACKOFF.min;
      readiness.set(condition, true);
      logger.info(target, `${role} session open`);
      const lost = await Promise.race([session.closed, stopped]);
      if (signal.aborted) return;
      readiness.set(condition, false);
      logger.warn({ ...target, err: lost, retryInMs: retryMs }, `${role} connection lost; opening another`);
      onSession(undefined);
      await settleWithin(session.close(), { logger, timeoutMs: closeTimeoutMs, what: `closing the lost ${role} connection` });
    } catch (error) {
      readiness.set(condition, false);
      logger.warn({ ...target, err: error, retryInMs: retryMs }, `could not open a ${role} session; retrying`);
    }
    await sleep(retryMs, undefined, { signal }).catch(() => undefined);
    retryMs = Math.min(retryMs * RECONNECT_BACKOFF.factor, RECONNECT_BACKOFF.max);
  }
}
