import amqp from "amqplib";
import { setTimeout as sleep } from "node:timers/promises";
import type { BrokerCounts, ScenarioLedger } from "./ledger.ts";
import { sequenceOf } from "./work.ts";

/** Runs rabbitmqctl against one node and returns its output. */
export type Ctl = (...args: string[]) => Promise<string>;

/** One queue as `rabbitmqctl list_queues` reports it. */
export interface QueueDepth {
  messages: number;
  ready: number;
  unacknowledged: number;
}

/** The broker's own counts of every queue in `vhost`, by queue name. */
export async function listQueues(ctl: Ctl, vhost: string): Promise<Map<string, QueueDepth>> {
  const output = await ctl("list_queues", "--vhost", vhost, "--no-table-headers", "name", "messages", "messages_ready", "messages_unacknowledged");
  const queues = new Map<string, QueueDepth>();
  for (const line of output.split("\n")) {
    const [name, messages, ready, unacknowledged] = line.trim().split(/\s+/);
    if (!name || !/^\d+$/.test(messages ?? "")) continue;
    queues.set(name, { messages: Number(messages), ready: Number(ready), unacknowledged: Number(unacknowledged) });
  }
  return queues;
}

/** Work-queue and dead-letter-queue depths in `vhost`. */
export async function workDepths(ctl: Ctl, vhost: string): Promise<BrokerCounts & { unacknowledged: number }> {
  const queues = await listQueues(ctl, vhost);
  const work = queues.get("switchyard.work");
  return {
    queued: work?.messages ?? 0,
    unacknowledged: work?.unacknowledged ?? 0,
    deadLettered: queues.get("switchyard.work.dead")?.messages ?? 0,
  };
}

/**
 * Waits (bounded) until the broker's books can balance, then records its counts in the
 * ledger: the work queue is empty and every acknowledged message is either reported
 * handled (`handledNow`, an upper bound read from the handlers) or dead-lettered.
 *
 * One reading is not enough: RabbitMQ reports a quorum queue's depth from metrics it
 * emits every few seconds, so right after a connection drop `list_queues` can show an
 * empty queue while every message is still checked out to a consumer (seen with 3.10:
 * 0 messages for two seconds, then 20 unacknowledged, then 20 dead-lettered). Waiting
 * for the balance rather than for an empty queue keeps such a stale reading from
 * counting as loss; a real loss never balances, and is recorded when the bound runs out.
 */
export async function recordBrokerCounts(
  ctl: Ctl,
  vhost: string,
  ledger: ScenarioLedger,
  handledNow: () => Promise<number>,
  timeoutMs = 60_000,
): Promise<BrokerCounts> {
  const deadline = performance.now() + timeoutMs;
  const balanced = async (counts: BrokerCounts) =>
    counts.queued === 0 && counts.deadLettered + (await handledNow().catch(() => 0)) >= ledger.acknowledgedCount;
  // Each rabbitmqctl call takes seconds: ask once, and again only while the books are open.
  let counts = await workDepths(ctl, vhost);
  while (!(await balanced(counts)) && performance.now() < deadline) {
    await sleep(500);
    counts = await workDepths(ctl, vhost);
  }
  ledger.brokerCounts(counts);
  return counts;
}

/** One message taken from the dead-letter queue. */
export interface DeadLetter {
  messageId: unknown;
  /** The handler's `x-switchyard-reason` header, if it forwarded the message itself. */
  reason: unknown;
  /** Why the broker dead-lettered it, when the queue did (from `x-death`). */
  death: unknown;
  body: Buffer;
}

/**
 * Takes every message off the dead-letter queue of the vhost at `url` (at most `max`),
 * notes the run's sequences among them in the ledger, and returns them all.
 */
export async function drainDeadLetters(url: string, runId: string, ledger: ScenarioLedger, max = 10_000): Promise<DeadLetter[]> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    const letters: DeadLetter[] = [];
    while (letters.length < max) {
      const message = await channel.get("switchyard.work.dead", { noAck: true });
      if (!message) break;
      const headers = message.properties.headers ?? {};
      const deaths = headers["x-death"] as Array<{ reason?: unknown }> | undefined;
      letters.push({
        messageId: message.properties.messageId,
        reason: headers["x-switchyard-reason"],
        death: Array.isArray(deaths) ? deaths[0]?.reason : undefined,
        body: message.content,
      });
      const sequence = sequenceOf(runId, message.properties.messageId);
      if (sequence !== undefined) ledger.deadLetter(sequence);
    }
    return letters;
  } finally {
    await connection.close();
  }
}
