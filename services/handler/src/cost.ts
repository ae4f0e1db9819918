import { setTimeout as sleep } from "node:timers/promises";
import { HandlingFailedError } from "./errors.ts";

/** A simulated per-message cost, so benchmarks can model a real handler. All zero: none. */
export interface SimulatedCost {
  /** Milliseconds of waiting, as for a database call; honours cancellation. */
  delayMs: number;
  /** Milliseconds of busy CPU on the event loop, as for parsing or hashing. */
  cpuMs: number;
  /** Share of messages, 0-1, that fail with a retryable error. */
  failureRatio: number;
}

/** No simulated cost. */
export const NO_COST: SimulatedCost = { delayMs: 0, cpuMs: 0, failureRatio: 0 };

/**
 * Spends `cost`. Rejects with the signal's reason when `signal` aborts during the delay
 * (the caller's deadline passed), and with {@link HandlingFailedError} for the simulated
 * failure share.
 */
export async function spend(cost: SimulatedCost, signal: AbortSignal | undefined, random = Math.random): Promise<void> {
  if (cost.delayMs > 0) {
    try {
      await sleep(cost.delayMs, undefined, { signal });
    } catch (error) {
      throw signal?.aborted ? signal.reason : error;
    }
  }
  if (cost.cpuMs > 0) {
    const until = performance.now() + cost.cpuMs;
    while (performance.now() < until) {
      // Busy on purpose: this models CPU-bound work that blocks the event loop.
    }
  }
  signal?.throwIfAborted();
  if (cost.failureRatio > 0 && random() < cost.failureRatio) {
    throw new HandlingFailedError("simulated handling failure");
  }
}
