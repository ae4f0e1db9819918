import { Latencies } from "./stats.ts";

/** What a closed-loop run did. */
export interface LoadResult {
  /** Sends that succeeded inside the window. */
  ok: number;
  /** Sends that failed inside the window. */
  failed: number;
  /** The window's length in seconds. */
  seconds: number;
  p50Us: number;
  p99Us: number;
  /** The first failure seen, to tell a broken row from a slow one. */
  firstError?: string;
}

/**
 * Runs `concurrency` workers that each send, wait for the outcome and send again, for
 * `seconds`. `send` resolves true for success; a rejection counts as a failure.
 */
export async function closedLoop(send: () => Promise<boolean>, concurrency: number, seconds: number): Promise<LoadResult> {
  const latencies = new Latencies();
  let failed = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const endAt = started + seconds * 1000;
  const worker = async () => {
    while (performance.now() < endAt) {
      const sentAt = performance.now();
      let ok = false;
      try {
        ok = await send();
      } catch (error) {
        firstError ??= String(error);
      }
      if (ok) latencies.add((performance.now() - sentAt) * 1000);
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const { p50, p99 } = latencies.percentiles();
  return { ok: latencies.count, failed, seconds: (performance.now() - started) / 1000, p50Us: p50, p99Us: p99, ...(firstError ? { firstError } : {}) };
}

/**
 * True for a sender's `ok` outcome; throws otherwise, so the closed loop records the
 * outcome as the window's first error. Senders never reject, and a failure without a
 * name would leave a failed row unexplained.
 */
export function okOrThrow(outcome: string): true {
  if (outcome !== "ok") throw new Error(`outcome ${outcome}`);
  return true;
}
