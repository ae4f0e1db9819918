import { randomUUID } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

/** The file's private node and the vhosts made for its scenarios. */
export interface BrokerNode {
  broker: PrivateBroker;
  /** The vhost made for `scenario` (one of the names passed to {@link usePrivateNode}). */
  vhost(scenario: string): NodeVhost;
}

/**
 * Starts a RabbitMQ node of the file's own before its tests, with one vhost per name in
 * `vhosts` (guest may do anything in each), and destroys it after. Every reliability
 * file uses one: their faults break brokers (stopped, killed, or a hostile header that
 * crashes RabbitMQ 3.10's dead-letter worker for every queue on the node), and the
 * counts they assert must be this run's alone. The vhosts are made in one
 * `rabbitmqctl import_definitions` call: each rabbitmqctl call costs seconds of CPU.
 */
export function usePrivateNode(
  vhosts: readonly string[],
  options: PrivateBrokerOptions | (() => PrivateBrokerOptions) = {},
): () => BrokerNode {
  let broker: PrivateBroker | undefined;
  const names = new Map(vhosts.map((scenario) => [scenario, `rel-${scenario}-${randomUUID().slice(0, 8)}`]));
  beforeAll(async () => {
    // A function is read only now, after earlier hooks (say, the one making a namespace) ran.
    broker = await startPrivateBroker(typeof options === "function" ? options() : options);
    const file = join(tmpdir(), `switchyard-rel-definitions-${randomUUID()}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        vhosts: [...names.values()].map((name) => ({ name })),
        permissions: [...names.values()].map((vhost) => ({ user: "guest", vhost, configure: ".*", write: ".*", read: ".*" })),
      }),
      { mode: 0o644 },
    );
    try {
      await broker.ctl("import_definitions", file);
    } finally {
      rmSync(file, { force: true });
    }
  }, 120_000);
  afterAll(async () => {
    await broker?.destroy();
  }, 60_000);
  return () => {
    const node = broker!;
    return {
      broker: node,
      vhost: (scenario) => {
        const name = names.get(scenario);
        if (!name) throw new Error(`no vhost was made for ${scenario}; pass it to usePrivateNode`);
        return { name, url: `${node.url}${encodeURIComponent(name)}`, ctl: node.ctl };
      },
    };
  };
}
