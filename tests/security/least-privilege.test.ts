import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { create } from "@bufbuild/protobuf";
import { WorkSchema } from "@switchyard/contracts";
import { BROKER_PERMISSIONS, declareTopology, rascalConfig, Readiness, TOPOLOGY } from "@switchyard/platform";
import amqplib from "amqplib";
import { pino } from "pino";
import type { BrokerConfig } from "rascal";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestVhost, eventually, queueCounts, type TestVhost } from "../support/broker.ts";
import { runToExit } from "../support/process.ts";
import { build, type HandlerApp } from "../../services/handler/src/app.ts";
import { loadHandlerConfig } from "../../services/handler/src/config.ts";
import { AmqpSender } from "../../services/producer/src/senders/amqp.ts";

const run = promisify(execFile);
const rabbitmqctl = (...args: string[]) => run("rabbitmqctl", ["-q", ...args], { timeout: 60_000 });

// One vhost and three users of the test's own on the shared broker, made with
// rabbitmqctl and given exactly BROKER_PERMISSIONS.
type Role = keyof typeof BROKER_PERMISSIONS;
let vhost: TestVhost;
const users = {} as Record<Role, { name: string; url: string }>;
let handler: HandlerApp;

beforeAll(async () => {
  vhost = await createTestVhost("switchyard-privilege");
  for (const role of Object.keys(BROKER_PERMISSIONS) as Role[]) {
    const name = `switchyard-${role}-${randomUUID().slice(0, 8)}`;
    const password = randomUUID();
    await rabbitmqctl("add_user", name, password);
    const { configure, write, read } = BROKER_PERMISSIONS[role];
    await rabbitmqctl("set_permissions", "-p", vhost.name, name, configure, write, read);
    users[role] = { name, url: `amqp://${name}:${password}@127.0.0.1:5672/${encodeURIComponent(vhost.name)}` };
  }
  // The handler starts before anyone declared the topology: it checks, and retries.
  handler = await build(
    loadHandlerConfig({ BIND_HOST: "127.0.0.1", HTTP_PORT: "0", H2C_PORT: "0", AMQP_URL: users.handler.url, AMQP_TOPOLOGY: "check", SHUTDOWN_GRACE_MS: "3000" }),
    pino({ level: "silent" }),
  );
  handler.consumer.start();
}, 120_000);

afterAll(async () => {
  await handler?.close();
  for (const { name } of Object.values(users)) await rabbitmqctl("delete_user", name).catch(() => undefined);
  await vhost?.delete();
});

/** Runs `operation` on a fresh channel as `url`'s user; resolves with the error that closed the channel, if any. */
async function asUser(url: string, operation: (channel: amqplib.ConfirmChannel) => Promise<unknown>): Promise<Error | undefined> {
  const connection = await amqplib.connect(url);
  connection.on("error", () => undefined);
  try {
    const channel = await connection.createConfirmChannel();
    const closed = new Promise<Error>((resolve) => channel.on("error", resolve));
    const outcome = await Promise.race([operation(channel).then(() => undefined, (error: Error) => error), closed]);
    return outcome;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

let sequence = 0;
const work = (id = `privilege-${sequence++}`) => create(WorkSchema, { id, producerId: "privilege-test", payload: new Uint8Array(4) });

describe("least-privilege broker users", () => {
  it("lets neither service declare the topology", async () => {
    for (const user of [users.producer, users.handler]) {
      await expect(declareTopology(rascalConfig({ url: user.url, deliveryLimit: 5 }) as BrokerConfig)).rejects.toThrow(/ACCESS_REFUSED/);
    }
    expect(handler.readiness.snapshot().broker_subscription).toBe(false);
  });

  it("declares the topology in a declare-only step with the topology user, after which the checking handler consumes", async () => {
    const { code, stdout } = await runToExit("handler", { AMQP_URL: users.topology.url, AMQP_TOPOLOGY: "declare-and-exit" });
    expect(code).toBe(0);
    expect(stdout).toContain("topology declared");
    await eventually(() => handler.readiness.snapshot().broker_subscription, 20_000);
  });

  it("lets the producer publish work that the handler handles, and the handler dead-letter what it must", async () => {
    const sender = new AmqpSender({
      rascal: rascalConfig({ url: users.producer.url, deliveryLimit: 5, topology: "check" }) as BrokerConfig,
      window: 8,
      readiness: new Readiness(),
      logger: pino({ level: "silent" }),
    });
    sender.start();
    try {
      await eventually(() => sender.connected, 20_000);
      for (let i = 0; i < 3; i++) expect(await sender.send(work(), 5_000)).toMatchObject({ outcome: "ok" });
      // An empty id is invalid work: the handler publishes it to the dead-letter exchange.
      expect(await sender.send(work(""), 5_000)).toMatchObject({ outcome: "ok" });
    } finally {
      await sender.close();
    }
    await eventually(async () => (await queueCounts(vhost.name, TOPOLOGY.deadQueue)).ready === 1, 15_000);
    const { ready, unacked } = await queueCounts(vhost.name, TOPOLOGY.workQueue);
    expect(ready + unacked).toBe(0);
  });

  it("refuses the producer consuming the work queue or the dead-letter queue", async () => {
    for (const queue of [TOPOLOGY.workQueue, TOPOLOGY.deadQueue]) {
      const error = await asUser(users.producer.url, (channel) => channel.consume(queue, () => undefined));
      expect(error?.message).toMatch(/ACCESS_REFUSED - access to queue '.*' in vhost '.*' refused for user/);
    }
  });

  it("refuses the handler publishing to the work exchange", async () => {
    const error = await asUser(users.handler.url, (channel) => {
      channel.publish(TOPOLOGY.workExchange, TOPOLOGY.routingKey, Buffer.from("not allowed"));
      return channel.waitForConfirms();
    });
    expect(error?.message).toMatch(/ACCESS_REFUSED - access to exchange 'switchyard.work' in vhost '.*' refused for user/);
  });

  it("refuses either service deleting the work queue", async () => {
    for (const user of [users.producer, users.handler]) {
      const error = await asUser(user.url, (channel) => channel.deleteQueue(TOPOLOGY.workQueue));
      expect(error?.message).toMatch(/ACCESS_REFUSED/);
    }
    expect(handler.readiness.snapshot().broker_subscription).toBe(true);
  });
});
