import { rascalConfig, TOPOLOGY } from "@switchyard/platform";
import type { Channel } from "amqplib";

/** The confirm window and prefetch every AMQP row uses. */
export const DELIVERY_LIMIT = 5;

/**
 * Declares the Contract topology with plain amqplib, taking the queue arguments from the
 * same rascalConfig the services use, so the raw rows run on the same quorum queue.
 */
export async function declareContractTopology(channel: Channel, url: string): Promise<void> {
  const config = rascalConfig({ url, deliveryLimit: DELIVERY_LIMIT });
  const vhost = Object.values(config.vhosts)[0]!;
  await channel.assertExchange(TOPOLOGY.workExchange, "direct", { durable: true });
  await channel.assertExchange(TOPOLOGY.deadExchange, "fanout", { durable: true });
  await channel.assertQueue(TOPOLOGY.workQueue, vhost.queues[TOPOLOGY.workQueue].options);
  await channel.assertQueue(TOPOLOGY.deadQueue, vhost.queues[TOPOLOGY.deadQueue].options);
  await channel.bindQueue(TOPOLOGY.workQueue, TOPOLOGY.workExchange, TOPOLOGY.routingKey);
  await channel.bindQueue(TOPOLOGY.deadQueue, TOPOLOGY.deadExchange, "");
}
