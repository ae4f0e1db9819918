/** Names of the Contract topology; producers, handlers, charts and tests share them. */
export const TOPOLOGY = {
  workExchange: "switchyard.work",
  workQueue: "switchyard.work",
  routingKey: "work",
  deadExchange: "switchyard.dead",
  deadQueue: "switchyard.work.dead",
  /** The AMQP `type` property of every published Work. */
  messageType: "switchyard.v1.Work",
  /** Header naming why the handler dead-lettered a message itself. */
  reasonHeader: "x-switchyard-reason",
} as const;

/**
 * How both services retry a lost broker connection (Rascal's backoff shape): 0.5 s, then
 * doubling, each step jittered, to a 2 s cap, forever. The cap bounds how long a service
 * stays not-ready after the broker is back, whatever the outage's length: at most one
 * cap to the next attempt, plus connecting. A refused connection attempt costs one TCP
 * round trip, so a 2 s cap is cheap for the broker even with many replicas.
 */
export const RECONNECT_BACKOFF = { min: 500, max: 2000, factor: 2, strategy: "exponential" } as const;

/** Options for {@link rascalConfig}. */
export interface TopologyOptions {
  /** amqp:// or amqps:// URL; its path is the vhost. */
  url: string;
  /** Deliveries per message before the broker dead-letters it. */
  deliveryLimit: number;
  /** Consumer prefetch; only the handler subscribes. */
  prefetch?: number;
  /** Confirm channels kept for publishing; see the producer's AMQP sender. */
  publishChannels?: number;
  /** How long cancelling the subscription waits for unacknowledged messages. */
  closeTimeoutMs?: number;
}

/**
 * Rascal configuration declaring the Contract topology, idempotently, on whichever
 * service connects first. Both services must pass the same `deliveryLimit`: queue
 * arguments are part of a queue's identity, and RabbitMQ refuses a re-declaration that
 * differs (PRECONDITION_FAILED), which stops the later service at start.
 */
export function rascalConfig(options: TopologyOptions) {
  const vhost = decodeURIComponent(new URL(options.url).pathname.slice(1)) || "/";
  const t = TOPOLOGY;
  return {
    vhosts: {
      [vhost]: {
        connection: {
          url: options.url,
          options: { heartbeat: 10, connection_timeout: 5000 },
          socketOptions: { timeout: 5000 },
        },
        // Rascal 21 drops `retry` set on `connection` (its configure step keeps only the
        // URL parts, options, socketOptions and management), so it would reconnect on its
        // own 1 s to 60 s backoff; it takes a connection's retry from the vhost's
        // connection defaults. Reconnect forever with capped, jittered backoff; readiness
        // reports the gap.
        defaults: { connection: { retry: { ...RECONNECT_BACKOFF } } },
        exchanges: {
          [t.workExchange]: { type: "direct", options: { durable: true } },
          [t.deadExchange]: { type: "fanout", options: { durable: true } },
        },
        queues: {
          [t.workQueue]: {
            options: {
              durable: true,
              arguments: {
                "x-queue-type": "quorum",
                // RabbitMQ 4 defaults this to 20 and 3.10 has no default: say it.
                "x-delivery-limit": options.deliveryLimit,
                "x-dead-letter-exchange": t.deadExchange,
                // Quorum queues can dead-letter at-least-once (3.10+), which needs
                // reject-publish overflow; the default would drop a dead letter whose
                // DLQ publish failed.
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
              },
            },
          },
          [t.deadQueue]: {
            options: { durable: true, arguments: { "x-queue-type": "quorum" } },
          },
        },
        bindings: {
          work: {
            source: t.workExchange,
            destination: t.workQueue,
            destinationType: "queue",
            bindingKey: t.routingKey,
          },
          dead: { source: t.deadExchange, destination: t.deadQueue, destinationType: "queue" },
        },
        publicationChannelPools: {
          confirmPool: { min: 1, max: options.publishChannels ?? 5 },
        },
        publications: {
          work: {
            exchange: t.workExchange,
            routingKey: t.routingKey,
            confirm: true,
            options: { persistent: true, mandatory: true, type: t.messageType },
          },
          dead_letter: {
            exchange: t.deadExchange,
            confirm: true,
            options: { persistent: true },
          },
        },
        subscriptions: {
          work: {
            queue: t.workQueue,
            prefetch: options.prefetch ?? 64,
            // Hand over the raw bytes: the handler negotiates protobuf or JSON itself.
            contentType: "application/octet-stream",
            closeTimeout: options.closeTimeoutMs ?? 10_000,
            retry: { ...RECONNECT_BACKOFF },
          },
        },
      },
    },
  };
}
