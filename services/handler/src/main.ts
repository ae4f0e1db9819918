// Process entry only: configuration, listeners, signals. Routes live in app.ts.
import type { BrokerConfig } from "rascal";
import { amqpClientTls, createLogger, declareTopology, exitOnSignal, rascalConfig, redactUrl, runMain } from "@switchyard/platform";
import { build } from "./app.ts";
import { loadHandlerConfig } from "./config.ts";

runMain(async () => {
  const config = loadHandlerConfig();
  const logger = createLogger({ service: "handler", level: config.LOG_LEVEL });
  if (config.AMQP_TOPOLOGY === "declare-and-exit") {
    // The declare-only step (an init container or a Job), with the topology user. It waits
    // for a broker still starting; SIGTERM (the pod deleted) ends the wait.
    const url = config.AMQP_URL;
    const tls = amqpClientTls(url, config.AMQP_TLS_DIR);
    const stopping = new AbortController();
    for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => stopping.abort());
    await declareTopology(rascalConfig({ url, deliveryLimit: config.AMQP_DELIVERY_LIMIT, tls }) as BrokerConfig, { logger, signal: stopping.signal });
    logger.info({ url: redactUrl(url) }, "topology declared");
    // A one-shot step ends here: the failed attempts before a broker came up can leave
    // the client library's timers behind, and an init container that never exits holds
    // the pod in Init for good.
    logger.flush();
    process.exit(0);
  }
  const app = await build(config, logger);
  exitOnSignal({ logger, graceMs: config.SHUTDOWN_GRACE_MS, close: app.close });
  await app.http.listen({ host: config.BIND_HOST, port: config.HTTP_PORT });
  await app.h2c.listen({ host: config.BIND_HOST, port: config.H2C_PORT });
  if (app.ops) await app.ops.listen({ host: config.BIND_HOST, port: config.OPS_PORT });
  await app.reference.listen(config.BIND_HOST);
  app.consumer.start();
  app.reference.start();
});
