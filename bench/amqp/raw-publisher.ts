// The AMQP publishing floor: amqplib's confirm channel, `window` publishes awaiting their
// confirm at once, the same properties the producer sets.
import { toBinary } from "@bufbuild/protobuf";
import { WorkSchema } from "@switchyard/contracts";
import { TOPOLOGY } from "@switchyard/platform";
import amqp from "amqplib";
import { argument, serveCommands } from "../lib/child.ts";
import { closedLoop } from "../lib/load.ts";
import { WorkFactory } from "../lib/work.ts";
import { declareContractTopology } from "./topology.ts";

const url = argument("url");
const connection = await amqp.connect(url);
const channel = await connection.createConfirmChannel();
await declareContractTopology(channel, url);

serveCommands(
  {},
  async (command) => {
    if (command.cmd === "ready") return { ready: true };
    if (command.cmd !== "run") throw new Error(`unknown command ${command.cmd}`);
    const { seconds, window, payloadBytes } = command as unknown as { seconds: number; window: number; payloadBytes: number };
    const works = new WorkFactory(payloadBytes);
    return closedLoop(
      () =>
        new Promise<boolean>((resolve) => {
          const work = works.next();
          channel.publish(
            TOPOLOGY.workExchange,
            TOPOLOGY.routingKey,
            Buffer.from(toBinary(WorkSchema, work)),
            {
              persistent: true,
              mandatory: true,
              messageId: work.id,
              contentType: "application/x-protobuf",
              type: TOPOLOGY.messageType,
              timestamp: Math.floor(Date.now() / 1000),
            },
            (error) => resolve(!error),
          );
        }),
      window,
      seconds,
    );
  },
  async () => {
    await connection.close();
  },
);
