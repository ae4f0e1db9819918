import { TOPOLOGY } from "@switchyard/platform";

/** The broker's own counts for the work queue and its dead-letter queue at one moment. */
export interface BrokerCounts {
  /** Messages routed into the work queue. */
  published: number;
  /** Deliveries consumers acknowledged: the handler acknowledges only after handling. */
  acknowledged: number;
  /** Deliveries made again (after a consumer died, a nack, a requeue). */
  redelivered: number;
  /** Messages routed into the dead-letter queue. */
  deadLettered: number;
  /** Messages in the work queue, ready or unacknowledged. */
  depth: number;
}

/** What the broker's counts say about one phase, from {@link brokerBalance}. */
export interface BrokerBalance {
  published: number;
  settled: number;
  redelivered: number;
  /** Published into the queue and neither acknowledged, dead-lettered nor still queued. */
  unaccounted: number;
}

/**
 * The difference between two readings: everything published into the work queue in
 * between must have been acknowledged by a consumer, dead-lettered, or still be queued.
 */
export function brokerBalance(before: BrokerCounts, after: BrokerCounts): BrokerBalance {
  const published = after.published - before.published;
  const settled = after.acknowledged - before.acknowledged + (after.deadLettered - before.deadLettered);
  return {
    published,
    settled,
    redelivered: after.redelivered - before.redelivered,
    unaccounted: published - settled - (after.depth - before.depth),
  };
}

/** Where the producer reads the broker's counts; a {@link ManagementApi} in production. */
export interface BrokerObserver {
  /** The counts now, or undefined when the broker cannot be asked. */
  counts(): Promise<BrokerCounts | undefined>;
}

/**
 * RabbitMQ's management HTTP API for the work queue of one vhost: counts kept by the
 * broker, so they outlive any handler process. Its message statistics are sampled (every
 * 5 s by default), so a reading may lag the truth by that much; callers wait for them
 * to settle.
 */
export class ManagementApi implements BrokerObserver {
  readonly #base: string;
  readonly #vhost: string;
  readonly #authorization: string;
  readonly #timeoutMs: number;

  /**
   * @param managementUrl The management API's base URL, e.g. http://127.0.0.1:15672.
   * @param amqpUrl The broker URL the services use: its vhost and credentials.
   */
  constructor(managementUrl: string, amqpUrl: string, timeoutMs = 3_000) {
    const amqp = new URL(amqpUrl);
    this.#base = managementUrl.replace(/\/$/, "");
    this.#vhost = decodeURIComponent(amqp.pathname.replace(/^\//, "")) || "/";
    const user = decodeURIComponent(amqp.username || "guest");
    const password = decodeURIComponent(amqp.password || "guest");
    this.#authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    this.#timeoutMs = timeoutMs;
  }

  async counts(): Promise<BrokerCounts | undefined> {
    try {
      const [work, dead] = await Promise.all([this.#queue(TOPOLOGY.workQueue), this.#queue(TOPOLOGY.deadQueue)]);
      if (!work) return undefined;
      const stats = work.message_stats ?? {};
      return {
        published: stats.publish ?? 0,
        acknowledged: stats.ack ?? 0,
        redelivered: stats.redeliver ?? 0,
        deadLettered: dead?.message_stats?.publish ?? 0,
        depth: work.messages ?? 0,
      };
    } catch {
      return undefined;
    }
  }

  async #queue(name: string): Promise<QueueInfo | undefined> {
    const url = `${this.#base}/api/queues/${encodeURIComponent(this.#vhost)}/${encodeURIComponent(name)}`;
    const response = await fetch(url, { headers: { authorization: this.#authorization }, signal: AbortSignal.timeout(this.#timeoutMs) });
    if (!response.ok) return undefined;
    return (await response.json()) as QueueInfo;
  }
}

/** The fields of the management API's queue object this module reads. */
interface QueueInfo {
  messages?: number;
  message_stats?: { publish?: number; ack?: number; redeliver?: number };
}

/** http://host:15672 for the broker in `amqpUrl`: the management plugin's default port. */
export function defaultManagementUrl(amqpUrl: string): string {
  const url = new URL(amqpUrl);
  return `${url.protocol === "amqps:" ? "https" : "http"}://${url.hostname}:15672`;
}
