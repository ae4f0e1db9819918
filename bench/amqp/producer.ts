// The producer's AMQP sender as services/producer/src/app.ts builds it: Rascal opens the
// connection and declares the topology; the sender publishes with amqplib on one confirm
// channel of it, at most `window` publishes unconfirmed.
import { createLogger, rascalConfig, Readiness } from "@switchyard/platform";
import { pino } from "pino";
import type { BrokerConfig } from "rascal";
import { AmqpSender } from "../../services/producer/src/senders/amqp.ts";
import { argument, serveCommands } from "../lib/child.ts";
import { closedLoop, okOrThrow } from "../lib/load.ts";
import { WorkFactory } from "../lib/work.ts";
import { DELIVERY_LIMIT } from "./topology.ts";

const url = argument("url");
const window = Number(argument("window"));
const logger = createLogger({ service: "producer", level: process.env.LOG_LEVEL ?? "info", destination: pino.destination(2) });
const sender = new AmqpSender({
  rascal: rascalConfig({ url, deliveryLimit: DELIVERY_LIMIT }) as BrokerConfig,
  window,
  readiness: new Readiness(),
  logger,
});
sender.start();

serveCommands(
  {},
  async (command) => {
    if (command.cmd === "ready") return { ready: sender.connected };
    if (command.cmd !== "run") throw new Error(`unknown command ${command.cmd}`);
    const { seconds, payloadBytes, deadlineMs } = command as unknown as { seconds: number; payloadBytes: number; deadlineMs: number };
    const works = new WorkFactory(payloadBytes);
    // The sender's own window bounds publishes in flight; the loop only keeps it full.
    return closedLoop(async () => okOrThrow((await sender.send(works.next(), deadlineMs)).outcome), window, seconds);
  },
  () => sender.close(),
);
