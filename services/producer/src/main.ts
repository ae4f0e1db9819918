// Process entry only: configuration, listeners, signals. Routes live in app.ts.
import { createLogger, exitOnSignal, runMain } from "@switchyard/platform";
import { build } from "./app.ts";
import { loadProducerConfig } from "./config.ts";

runMain(async () => {
  const config = loadProducerConfig();
  const logger = createLogger({ service: "producer", level: config.LOG_LEVEL });
  const app = await build(config, logger);
  exitOnSignal({ logger, graceMs: config.SHUTDOWN_GRACE_MS, close: app.close });
  await app.http.listen({ host: config.BIND_HOST, port: config.HTTP_PORT });
  await app.h2c.listen({ host: config.BIND_HOST, port: config.H2C_PORT });
  if (app.ops) await app.ops.listen({ host: config.BIND_HOST, port: config.OPS_PORT });
  app.start();
});
