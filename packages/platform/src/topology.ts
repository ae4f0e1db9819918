import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import rascal, { type BrokerConfig } from "rascal";
import type { TlsMaterial } from "./tls.ts";

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

/**
 * How a service treats the topology at start (AMQP_TOPOLOGY): `declare` it
 * idempotently (needs configure rights; the local default), or only `check` that it
 * exists (passive declarations, which need no rights) for a least-privilege user,
 * retrying until whoever declares it has done so.
 */
export type TopologyMode = "declare" | "check";

/**
 * The RabbitMQ permissions (regular expressions over resource names, per vhost) of each
 * least-privilege user. RabbitMQ's permissions do not tell exchanges from queues, and
 * the work exchange and the work queue share one name, so binding the work queue (which
 * needs write on it) would also allow publishing to the work exchange: neither service
 * can declare the topology without gaining what it must not have. A separate `topology`
 * user declares it once (the handler with AMQP_TOPOLOGY=declare-and-exit, or the
 * operator's objects), and both services run with AMQP_TOPOLOGY=check.
 */
export const BROKER_PERMISSIONS = {
  /** Publishes to the work exchange; reads and configures nothing. */
  producer: { configure: "^$", write: "^switchyard\\.work$", read: "^$" },
  /**
   * Consumes the work queue and publishes dead letters. Read on `switchyard.work` also
   * covers the exchange of that name, which lets it bind that exchange to
   * `switchyard.dead`: it can divert work to the dead-letter queue, never publish work.
   */
  handler: { configure: "^$", write: "^switchyard\\.dead$", read: "^switchyard\\.work$" },
  /**
   * Declares the topology: configure on all four names; write on the queues it binds
   * and on the dead-letter exchange a queue names; read on the exchanges it binds from
   * and on the queue naming a dead-letter exchange.
   */
  topology: {
    configure: "^switchyard\\.(work|dead|work\\.dead)$",
    write: "^switchyard\\.(work|dead|work\\.dead)$",
    read: "^switchyard\\.(work|dead)$",
  },
} as const;

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
  /** Declare the topology (default) or only check it exists; see {@link TopologyMode}. */
  topology?: TopologyMode;
  /**
   * TLS material for an amqps:// URL: `ca` verifies the broker (absent: the system's
   * CAs), `cert` + `key` are the client certificate (optional).
   */
  tls?: TlsMaterial;
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
  // check: passive declarations only, and no bindings (AMQP has no passive bind).
  const declare = (options.topology ?? "declare") === "declare";
  const mode = declare ? {} : { assert: false, check: true };
  const { ca, cert, key } = options.tls ?? {};
  return {
    vhosts: {
      [vhost]: {
        connection: {
          url: options.url,
          options: { heartbeat: 10, connection_timeout: 5000 },
          // amqplib hands socketOptions to tls.connect for amqps:// and verifies the
          // broker's certificate and host name against them.
          socketOptions: { timeout: 5000, ...(ca && { ca }), ...(cert && key && { cert, key }) },
        },
        // Rascal 21 drops `retry` set on `connection` (its configure step keeps only the
        // URL parts, options, socketOptions and management), so it would reconnect on its
        // own 1 s to 60 s backoff; it takes a connection's retry from the vhost's
        // connection defaults. Reconnect forever with capped, jittered backoff; readiness
        // reports the gap.
        defaults: { connection: { retry: { ...RECONNECT_BACKOFF } } },
        exchanges: {
          [t.workExchange]: { type: "direct", options: { durable: true }, ...mode },
          [t.deadExchange]: { type: "fanout", options: { durable: true }, ...mode },
        },
        queues: {
          [t.workQueue]: {
            ...mode,
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
            ...mode,
            options: { durable: true, arguments: { "x-queue-type": "quorum" } },
          },
        },
        bindings: declare
          ? {
              work: {
                source: t.workExchange,
                destination: t.workQueue,
                destinationType: "queue",
                bindingKey: t.routingKey,
              },
              dead: { source: t.deadExchange, destination: t.deadQueue, destinationType: "queue" },
            }
          : {},
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

/** What {@link declareTopology} may be given. */
export interface DeclareOptions {
  /** Where each wait for an unreachable broker is logged. */
  logger?: Logger;
  /** Aborting it ends the waiting: the last error is thrown. */
  signal?: AbortSignal;
}

/**
 * Declares the topology once and disconnects: the declare-only step, run with a user
 * holding {@link BROKER_PERMISSIONS}.topology before services that only check it.
 *
 * A broker that cannot be reached yet is waited for with {@link RECONNECT_BACKOFF}, until
 * `signal` aborts: the step runs as an init container that starts beside a broker still
 * booting, and exiting there fails the rollout (skaffold's status check gives up on an
 * init container's first failed exit). A broker that answers and refuses (credentials,
 * permissions, a queue declared with other arguments) rejects at once: waiting would
 * not change it.
 */
export async function declareTopology(config: BrokerConfig, { logger, signal }: DeclareOptions = {}): Promise<void> {
  const { min, max, factor } = RECONNECT_BACKOFF;
  for (let delayMs: number = min; ; delayMs = Math.min(delayMs * factor, max)) {
    try {
      const broker = await rascal.BrokerAsPromised.create(config);
      await broker.shutdown();
      return;
    } catch (error) {
      if (!isUnreachable(error) || signal?.aborted) throw error;
      logger?.warn({ err: error, retryInMs: delayMs }, "broker not reachable yet; waiting to declare the topology");
      await sleep(delayMs, undefined, { signal }).catch(() => undefined);
    }
  }
}

/**
 * A broker's answers that waiting will not change: AMQP refusals (bad credentials,
 * missing permissions, a queue that exists with other arguments). Anything else — a
 * refused, reset or timed-out socket, a name not resolving yet, a broker closing the
 * socket while it boots — is a broker not there yet.
 */
const REFUSAL = /ACCESS_REFUSED|PRECONDITION_FAILED|NOT_ALLOWED|NOT_FOUND|RESOURCE_LOCKED|COMMAND_INVALID|Login was refused/;

function isUnreachable(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return !REFUSAL.test(message);
}
