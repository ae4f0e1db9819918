import type { Logger } from "pino";

/** Options for {@link exitOnSignal}. */
export interface ShutdownOptions {
  logger: Logger;
  /** Upper bound for `close`; past it the process exits 1 so the orchestrator sees it. */
  graceMs: number;
  /** Closes everything in the service's own order; resolves when done. */
  close: () => Promise<void>;
  /** Injected for tests; defaults to `process.exit`. */
  exit?: (code: number) => void;
}

/**
 * On the first SIGTERM or SIGINT runs `close` within `graceMs` and exits 0; exits 1 if
 * `close` fails or overruns. Further signals during shutdown are logged and ignored, so
 * an impatient Ctrl-C does not cut the drain short.
 */
export function exitOnSignal({ logger, graceMs, close, exit = process.exit }: ShutdownOptions): void {
  let shuttingDown = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      logger.warn({ signal }, "already shutting down");
      return;
    }
    shuttingDown = true;
    logger.info({ signal, graceMs }, "shutting down");
    const overrun = setTimeout(() => {
      logger.error({ graceMs }, "shutdown overran its grace period");
      exit(1);
    }, graceMs);
    overrun.unref();
    close().then(
      () => {
        clearTimeout(overrun);
        logger.info("shutdown complete");
        exit(0);
      },
      (error: unknown) => {
        clearTimeout(overrun);
        logger.error({ err: error }, "shutdown failed");
        exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

/**
 * Runs a service's `main` with the one-line configuration-error contract: a
 * {@link ConfigError} prints its message to stderr and exits 1; any other start-up
 * failure is logged as JSON and exits 1.
 */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    if (error instanceof Error && error.name === "ConfigError") {
      process.stderr.write(`${error.message}\n`);
    } else {
      process.stderr.write(`${JSON.stringify({ level: "fatal", msg: "start-up failed", err: String(error) })}\n`);
    }
    process.exit(1);
  });
}
