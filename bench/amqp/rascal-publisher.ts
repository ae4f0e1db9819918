// Bare Rascal publishing: the Contract's `work` publication with confirms, a channel
// pool as large as the window, `window` publishes awaiting their confirm at once.
import { toBinary } from "@bufbuild/protobuf";
import { WorkSchema } from "@switchyard/contracts";
import { rascalConfig } from "@switchyard/platform";
import rascal, { type BrokerConfig } from "rascal";
import { argument, serveCommands } from "../lib/child.ts";
import { closedLoop } from "../lib/load.ts";
import { WorkFactory } from "../lib/work.ts";
import { DELIVERY_LIMIT } from "./topology.ts";

const url = argument("url");
const window = Number(argument("window"));
const broker = await rascal.BrokerAsPromised.create(rascalConfig({ url, deliveryLimit: DELIVERY_LIMIT, publishChannels: window }) as BrokerConfig);
broker.on("error", (error: Error) => process.stderr.write(`rascal: ${error.message}\n`));

serveCommands(
  {},
  async (command) => {
    if (command.cmd === "ready") return { ready: true };
    if (command.cmd !== "run") throw new Error(`unknown command ${command.cmd}`);
    const { seconds, payloadBytes } = command as unknown as { seconds: number; payloadBytes: number };
    const works = new WorkFactory(payloadBytes);
    return closedLoop(
      async () => {
        const work = works.next();
        const session = await broker.publish("work", Buffer.from(toBinary(WorkSchema, work)), {
          options: { messageId: work.id, contentType: "application/x-protobuf", timestamp: Math.floor(Date.now() / 1000) },
        } as never);
        return new Promise<boolean>((resolve) => {
          session.on("success", () => resolve(true)).on("error", () => resolve(false));
        });
      },
      window,
      seconds,
    );
  },
  () => broker.shutdown(),
);
