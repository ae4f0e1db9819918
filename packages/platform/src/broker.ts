import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import rascal, { type BrokerAsPromised, type BrokerConfig } from "rascal";
import { RECONNECT_BACKOFF } from "./topology.ts";

/**
 * Creates a Rascal broker, retrying with the backoff Rascal itself reconnects with
 * ({@link RECONNECT_BACKOFF}: 0.5 s doubling to 2 s) until it connects or `signal`
 * aborts; resolves undefined when aborted. A broker that is down at start must not stop
 * a service: callers run this in the background and report the gap through readiness.
 * Once created, Rascal reconnects by itself.
 */
export async function connectBroker(
  config: BrokerConfig,
  { logger, signal }: { logger: Logger; signal: AbortSignal },
): Promise<BrokerAsPromised | undefined> {
  const { min, max, factor } = RECONNECT_BACKOFF;
  for (let delayMs: number = min; !signal.aborted; delayMs = Math.min(delayMs * factor, max)) {
    try {
      const broker = await rascal.BrokerAsPromised.create(config);
      if (!signal.aborted) return broker;
      await broker.shutdown();
    } catch (error) {
      logger.warn({ err: error, retryInMs: delayMs }, "broker unavailable; RPC transports keep working");
      await sleep(delayMs, undefined, { signal }).catch(() => undefined);
    }
  }
  return undefined;
}

/**
 * Resolves true when `work` settles within `timeoutMs` (its rejection is logged), false
 * when it does not: the caller goes on either way. For the close steps of a client
 * library that can wait forever on a dead connection.
 */
export async function settleWithin(
  work: Promise<unknown>,
  { logger, timeoutMs, what }: { logger: Logger; timeoutMs: number; what: string },
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    work.then(
      () => true,
      (error: unknown) => {
        logger.warn({ err: error }, `${what} failed`);
        return true;
      },
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (!settled) logger.warn({ timeoutMs }, `${what} did not finish in time; going on`);
  return settled;
}
