import { LRUCache } from "lru-cache";

/**
 * Remembers which Work ids have been claimed, in bounded memory: past `capacity` ids the
 * least recently seen is forgotten, so a copy arriving after that many newer messages is
 * handled again. At-least-once transports make copies; this turns them into counted
 * duplicates instead of repeated work.
 */
export class Deduplicator {
  readonly #claimed: LRUCache<string, true>;

  constructor(capacity: number) {
    this.#claimed = new LRUCache({ max: capacity });
  }

  /**
   * Claims `id` for handling. Returns false when it was already claimed (handled, or
   * being handled right now), so the caller reports a duplicate.
   */
  claim(id: string): boolean {
    if (this.#claimed.has(id)) {
      this.#claimed.get(id); // refresh recency: a recurring id stays remembered
      return false;
    }
    this.#claimed.set(id, true);
    return true;
  }

  /** Gives a claim back after handling failed, so a redelivery is handled, not skipped. */
  release(id: string): void {
    this.#claimed.delete(id);
  }
}
