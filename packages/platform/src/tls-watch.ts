import { watch, type FSWatcher } from "node:fs";
import type { Logger } from "pino";

/**
 * How long a burst of file events is let settle before reloading, and the most a
 * steady stream of events can postpone it. A Secret update is a few renames within
 * milliseconds; a writer copying files one by one is done well within the quiet time.
 */
export const RELOAD_DEBOUNCE = { quietMs: 250, maxWaitMs: 2_000 } as const;

/**
 * The one owner of "reload TLS material when its files change", for servers and clients
 * alike: watches directories and calls `reload` once a burst of events has settled
 * ({@link RELOAD_DEBOUNCE}). Kubernetes updates a mounted Secret by swapping a `..data`
 * symlink inside the directory, so directories are watched, not files.
 */
export class TlsDirWatcher {
  readonly #dirs: readonly string[];
  readonly #reload: () => void;
  readonly #logger: Logger;
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #firstEventAt = 0;

  constructor(dirs: Iterable<string>, reload: () => void, logger: Logger) {
    this.#dirs = [...new Set(dirs)];
    this.#reload = reload;
    this.#logger = logger;
  }

  /** Starts watching; idempotent. The watchers never keep the process alive. */
  start(): void {
    if (this.#watchers.length > 0) return;
    for (const dir of this.#dirs) {
      const watcher = watch(dir, { persistent: false }, () => this.#schedule());
      watcher.on("error", (error) => this.#logger.error({ err: error, dir }, "cannot watch TLS material; reloads stop"));
      this.#watchers.push(watcher);
    }
  }

  /** Stops watching and drops a pending reload. */
  close(): void {
    for (const watcher of this.#watchers.splice(0)) watcher.close();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    const now = performance.now();
    if (this.#timer === undefined) this.#firstEventAt = now;
    clearTimeout(this.#timer);
    const waitMs = Math.max(0, Math.min(RELOAD_DEBOUNCE.quietMs, this.#firstEventAt + RELOAD_DEBOUNCE.maxWaitMs - now));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#reload();
    }, waitMs);
    this.#timer.unref();
  }
}
