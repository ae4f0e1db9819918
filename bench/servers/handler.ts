// The switchyard handler as it runs in production (services/handler/src/app.ts's
// build()), listening on ports the OS picks. With --url=<amqp url> (and --prefetch=) it
// also consumes the work queue on that vhost. `count` answers how many messages it has handled.
import { createLogger } from "@switchyard/platform";
import { pino } from "pino";
import { build } from "../../services/handler/src/app.ts";
import { loadHandlerConfig } from "../../services/handler/src/config.ts";
import { serveCommands } from "../lib/child.ts";

const option = (name: string) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const amqpUrl = option("url");
const prefetch = option("prefetch");
const config = loadHandlerConfig({
  ...process.env,
  HANDLER_ID: "bench",
  ...(amqpUrl ? { AMQP_URL: amqpUrl } : {}),
  ...(prefetch ? { AMQP_PREFETCH: prefetch } : {}),
});
// stdout carries the runner's protocol; the handler's log lines go to stderr.
const logger = createLogger({ service: "handler", level: config.LOG_LEVEL, destination: pino.destination(2) });
const app = await build(config, logger);
const httpUrl = await app.http.listen({ host: "127.0.0.1", port: 0 });
const grpcUrl = await app.h2c.listen({ host: "127.0.0.1", port: 0 });
if (amqpUrl) app.consumer.start();

/** Messages handled (ok or duplicate) over every transport so far. */
async function handled(): Promise<number> {
  const metric = await app.registry.getSingleMetric("switchyard_handler_messages_total")!.get();
  return metric.values.filter((value) => value.labels.outcome === "ok" || value.labels.outcome === "duplicate").reduce((sum, value) => sum + value.value, 0);
}

serveCommands(
  { httpUrl, grpcUrl },
  async (command) => {
    if (command.cmd === "count") return { count: await handled() };
    if (command.cmd === "ready") return { ready: app.readiness.ready };
    throw new Error(`unknown command ${command.cmd}`);
  },
  app.close,
);
