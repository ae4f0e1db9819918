import { randomUUID } from "node:crypto";
import { afterAll, beforeAll } from "vitest";
import { startPrivateBroker, type PrivateBroker, type PrivateBrokerOptions } from "../../support/private-broker.ts";
import type { Ctl } from "./broker-view.ts";

/** A vhost on the file's private node. */
export interface NodeVhost {
  name: string;
  /** amqp URL of the vhost, as guest over loopback. */
  url: string;
  /** rabbitmqctl for the node the vhost is on. */
  ctl: Ctl;
}

/** The file's private node and a way to give each scenario a vhost on it. */
export interface BrokerNode {
  broker: PrivateBroker;
  /** Creates a fresh vhost with every permission for guest. */
  vhost(prefix: string): Promise<NodeVhost>;
}

/**
 * Starts a RabbitMQ node of the file's own before its tests and destroys it after.
 * Every reliability file uses one: their faults break brokers (stopped, killed, or a
 * hostile header that crashes RabbitMQ 3.10's dead-letter worker for every queue on the
 * node), and the counts they assert must be this run's alone.
 */
export function usePrivateNode(options: PrivateBrokerOptions | (() => PrivateBrokerOptions) = {}): () => BrokerNode {
  let broker: PrivateBroker | undefined;
  beforeAll(async () => {
    // A function is read only now, after earlier hooks (say, the one making a namespace) ran.
    broker = await startPrivateBroker(typeof options === "function" ? options() : options);
  }, 120_000);
  afterAll(async () => {
    await broker?.destroy();
  }, 60_000);
  return () => {
    const node = broker!;
    return {
      broker: node,
      vhost: async (prefix) => {
        const name = `${prefix}-${randomUUID().slice(0, 8)}`;
        await node.ctl("add_vhost", name);
        await node.ctl("set_permissions", "--vhost", name, "guest", ".*", ".*", ".*");
        return { name, url: `${node.url}${encodeURIComponent(name)}`, ctl: node.ctl };
      },
    };
  };
}
