import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import rascal, { type BrokerAsPromised, type BrokerConfig } from "rascal";

/**
 * Creates a Rascal broker, retrying with capped exponential backoff (0.5 s doubling to
 * 5 s) until it connects or `signal` aborts; resolves undefined when aborted. A broker
 * that is down at start must not stop a service: callers run this in the background and
 * report the gap through readiness. Once created, Rascal reconnects by itself.
 */
export async function connectBroker(
  config: BrokerConfig,
  { logger, signal }: { logger: Logger; signal: AbortSignal },
): Promise<BrokerAsPromised | undefined> {
  for (let delayMs = 500; !signal.aborted; delayMs = Math.min(delayMs * 2, 5000)) {
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
