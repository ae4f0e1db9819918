import { LRUCache } from "lru-cache";
import type { Receipt, Work } from "@switchyard/contracts";
import type { HandleWork } from "./work.ts";

/**
 * What the handler knows about Work ids, in bounded memory: which were handled (the last
 * `capacity` of them; the least recently seen is forgotten first, so a copy arriving after
 * that many newer ids is handled again) and which are being handled right now (one entry
 * per running attempt, so bounded by the handler's concurrency: prefetch plus in-flight
 * RPCs). At-least-once transports make copies; this turns them into counted duplicates
 * instead of repeated work — but only once the original has succeeded.
 */
export class Deduplicator {
  readonly #handled: LRUCache<string, true>;
  readonly #running = new Map<string, Promise<void>>();

  constructor(capacity: number) {
    this.#handled = new LRUCache({ max: capacity });
  }

  /** True when `id` was handled successfully (and is still remembered). Refreshes its recency. */
  wasHandled(id: string): boolean {
    return this.#handled.get(id) !== undefined;
  }

  /**
   * The attempt handling `id` right now, as a promise that resolves (never rejects) once
   * that attempt has settled, either way; undefined when none is running.
   */
  running(id: string): Promise<void> | undefined {
    return this.#running.get(id);
  }

  /**
   * Registers `attempt` as the one handling `id`. When it fulfils, `id` is remembered as
   * handled; when it rejects, it is not, so the next copy is handled rather than reported
   * as a duplicate. Either way the running entry is removed before waiters resume.
   */
  track(id: string, attempt: Promise<unknown>): void {
    // One reaction does both: the entry goes inside it, before the promise waiters hold resolves.
    const settled = attempt.then(
      () => {
        this.#handled.set(id, true);
        this.#running.delete(id);
      },
      () => void this.#running.delete(id),
    );
    this.#running.set(id, settled);
  }

  /** Attempts running now; 0 when idle (what keeps this part of the memory bounded). */
  get runningCount(): number {
    return this.#running.size;
  }
}

/**
 * The deduplication layer. A Work whose id was handled gets a duplicate Receipt at once.
 * A copy that arrives while another attempt at the same id is running waits for that
 * attempt — bounded by its own `signal` (an RPC's deadline) — and then gets a duplicate
 * Receipt if it succeeded, or is handled itself if it failed. So a duplicate Receipt
 * always means the work was done, and a copy is never acknowledged in place of an
 * original that then fails.
 *
 * @param duplicateReceipt builds the Receipt a copy gets.
 */
export function deduplicated(
  dedupe: Deduplicator,
  duplicateReceipt: (work: Work) => Receipt,
  next: HandleWork,
): HandleWork {
  return async function handleOnce(work, transport, signal) {
    // Each turn waits for a running attempt to settle; the loop ends when this call finds
    // the id handled or becomes the running attempt itself.
    for (;;) {
      if (dedupe.wasHandled(work.id)) return duplicateReceipt(work);
      const running = dedupe.running(work.id);
      if (!running) break;
      await untilSettled(running, signal);
    }
    const attempt = next(work, transport, signal);
    dedupe.track(work.id, attempt);
    return attempt;
  };
}

/** Resolves when `settled` does; rejects with the signal's reason if it aborts first. */
async function untilSettled(settled: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return settled;
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([settled, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort!);
  }
}
