// Bare Rascal consuming: the Contract's `work` subscription with the same prefetch,
// decoding each body and acking it. `count` answers how many it has acked.
import { fromBinary } from "@bufbuild/protobuf";
import { WorkSchema } from "@switchyard/contracts";
import { rascalConfig } from "@switchyard/platform";
import rascal, { type BrokerConfig } from "rascal";
import { argument, serveCommands } from "../lib/child.ts";
import { DELIVERY_LIMIT } from "./topology.ts";

const url = argument("url");
const prefetch = Number(argument("prefetch"));
const broker = await rascal.BrokerAsPromised.create(rascalConfig({ url, deliveryLimit: DELIVERY_LIMIT, prefetch }) as BrokerConfig);
broker.on("error", (error: Error) => process.stderr.write(`rascal: ${error.message}\n`));
let count = 0;
const subscription = await broker.subscribe("work");
subscription
  .on("message", (_message: unknown, content: Buffer, ackOrNack: () => void) => {
    fromBinary(WorkSchema, content);
    ackOrNack();
    count++;
  })
  .on("error", (error: Error) => {
    process.stderr.write(`rascal subscription: ${error.message}\n`);
  });

serveCommands({}, () => ({ count }), () => broker.shutdown());
