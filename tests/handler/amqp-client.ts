import amqp, { type Options } from "amqplib";
import { eventually, management } from "../support/broker.ts";

/** A raw AMQP publisher, as any client would be, that waits for the broker's confirm. */
export interface RawPublisher {
  /** Publishes to the work exchange with the given properties and waits for the confirm. */
  publish(body: Uint8Array | string, properties?: Options.Publish): Promise<void>;
  close(): Promise<void>;
}

/** Connects a {@link RawPublisher} to `url` (a vhost URL from createTestVhost). */
export async function rawPublisher(url: string): Promise<RawPublisher> {
  const connection = await amqp.connect(url);
  const channel = await connection.createConfirmChannel();
  return {
    publish: async (body, properties = {}) => {
      channel.publish("switchyard.work", "work", Buffer.from(body), { persistent: true, ...properties });
      await channel.waitForConfirms();
    },
    close: () => connection.close(),
  };
}

/** A message taken off a queue by {@link drainQueue}. */
export interface TakenMessage {
  messageId: string | undefined;
  headers: Record<string, unknown>;
  body: Buffer;
}

/**
 * Takes every message off `queue` (up to `max`), acking each, over AMQP: for brokers
 * without the management plugin. Returns them in queue order.
 */
export async function drainQueue(url: string, queue: string, max = 1000): Promise<TakenMessage[]> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    const taken: TakenMessage[] = [];
    while (taken.length < max) {
      const message = await channel.get(queue, { noAck: true });
      if (message === false) break;
      taken.push({ messageId: message.properties.messageId, headers: message.properties.headers ?? {}, body: message.content });
    }
    return taken;
  } finally {
    await connection.close();
  }
}

/** Messages ready in `queue` (not counting those delivered and not yet acked), over AMQP. */
export async function readyCount(url: string, queue: string): Promise<number> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await connection.close();
  }
}

/** Reads one series of a handler's Prometheus text from `httpUrl`/metrics; NaN when absent. */
export async function handlerSeries(httpUrl: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${name}{${labels}} `));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(" ") + 1));
}

/** `switchyard_handler_messages_total` for one transport and outcome. */
export function handledCount(httpUrl: string, transport: string, outcome: string): Promise<number> {
  return handlerSeries(httpUrl, "switchyard_handler_messages_total", `transport="${transport}",outcome="${outcome}"`);
}

/** Every `switchyard_handler_messages_total` series of a transport, by outcome. */
export async function amqpCounts(httpUrl: string): Promise<Record<string, number>> {
  const outcomes = ["ok", "duplicate", "invalid", "failed", "dead_lettered"];
  const values = await Promise.all(outcomes.map((outcome) => handledCount(httpUrl, "amqp", outcome)));
  return Object.fromEntries(outcomes.map((outcome, index) => [outcome, values[index]!]));
}

/**
 * Names the connections that have a consumer on `vhost`'s work queue, waiting until the
 * management API lists one (its view lags a few seconds).
 */
export async function consumerConnections(vhost: string): Promise<string[]> {
  type Consumer = { queue: { name: string }; channel_details: { connection_name: string } };
  const consumers = await eventually(async () => {
    const listed = ((await management(`/consumers/${encodeURIComponent(vhost)}`)) ?? []) as Consumer[];
    const onWork = listed.filter((consumer) => consumer.queue.name === "switchyard.work");
    return onWork.length > 0 ? onWork : undefined;
  });
  // eventually resolves only with a truthy value.
  return [...new Set(consumers!.map((consumer) => consumer.channel_details.connection_name))];
}

/** Closes a connection from the broker's side, as `rabbitmqctl close_connection` does. */
export async function closeConnection(name: string): Promise<void> {
  await management(`/connections/${encodeURIComponent(name)}`, { method: "DELETE", headers: { "x-reason": "test: connection dropped" } });
}
