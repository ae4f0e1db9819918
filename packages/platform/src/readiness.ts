import { EventEmitter } from "node:events";

/**
 * Tracks the conditions a service needs before it takes traffic (listeners up, broker
 * subscription live). Ready means every registered condition holds and the service is
 * not draining. `/readyz` and `grpc.health.v1` both read it, so they never disagree.
 */
export class Readiness {
  readonly #conditions = new Map<string, boolean>();
  readonly #changes = new EventEmitter();
  #draining = false;

  /** Registers a condition, initially false, so readiness waits for it. */
  require(name: string): void {
    if (!this.#conditions.has(name)) this.#conditions.set(name, false);
  }

  /** Records whether a condition currently holds. */
  set(name: string, holds: boolean): void {
    const before = this.ready;
    this.#conditions.set(name, holds);
    if (before !== this.ready) this.#changes.emit("change", this.ready);
  }

  /** Marks the service as shutting down; it is never ready again. */
  drain(): void {
    const before = this.ready;
    this.#draining = true;
    if (before) this.#changes.emit("change", false);
  }

  /** True when every condition holds and the service is not draining. */
  get ready(): boolean {
    if (this.#draining) return false;
    for (const holds of this.#conditions.values()) if (!holds) return false;
    return true;
  }

  /** Each condition's state, plus `draining`, for the `/readyz` body. */
  snapshot(): Record<string, boolean> {
    return { ...Object.fromEntries(this.#conditions), draining: this.#draining };
  }

  /** Calls `listener` with the new state whenever `ready` flips; returns an unsubscribe. */
  onChange(listener: (ready: boolean) => void): () => void {
    this.#changes.on("change", listener);
    return () => this.#changes.off("change", listener);
  }
}
