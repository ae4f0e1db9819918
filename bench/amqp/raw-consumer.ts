// The AMQP consuming floor: amqplib with the same prefetch, decoding each body and
// acking it. `count` answers how many it has acked.
import { fromBinary } from "@bufbuild/protobuf";
import { WorkSchema } from "@switchyard/contracts";
import { TOPOLOGY } from "@switchyard/platform";
import amqp from "amqplib";
import { argument, serveCommands } from "../lib/child.ts";
import { declareContractTopology } from "./topology.ts";

const url = argument("url");
const prefetch = Number(argument("prefetch"));
const connection = await amqp.connect(url);
const channel = await connection.createChannel();
await declareContractTopology(channel, url);
await channel.prefetch(prefetch);
let count = 0;
await channel.consume(TOPOLOGY.workQueue, (message) => {
  if (!message) return;
  fromBinary(WorkSchema, message.content);
  channel.ack(message);
  count++;
});

serveCommands({}, () => ({ count }), async () => {
  await connection.close();
});
