// The declare-only step (AMQP_TOPOLOGY=declare-and-exit, the chart's init container) against
// a broker that is still starting: it accepts connections and closes them before the AMQP
// handshake, then serves. The step must wait for it, not fail the rollout.
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { declareTopology, rascalConfig, TOPOLOGY } from "@switchyard/platform";
import { pino } from "pino";
import type { BrokerConfig } from "rascal";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestVhost, management, type TestVhost } from "../support/broker.ts";
import { runToExit } from "../support/process.ts";

let vhost: TestVhost;
let proxy: Server;
let proxyPort: number;
/** Until this time the proxy plays a booting broker: accept, then close at once. */
let bootingUntil = 0;
const sockets = new Set<Socket>();

beforeAll(async () => {
  vhost = await createTestVhost("switchyard-declare-step");
  proxy = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    if (Date.now() < bootingUntil) return void client.destroy();
    const broker = createConnection({ host: "127.0.0.1", port: Number(new URL(vhost.url).port || 5672) });
    sockets.add(broker);
    broker.on("close", () => sockets.delete(broker));
    client.pipe(broker).pipe(client);
    client.on("error", () => broker.destroy());
    broker.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  proxyPort = (proxy.address() as { port: number }).port;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => proxy?.close(resolve));
  await vhost?.delete();
});

/** The test vhost's URL, through the proxy. */
function throughProxy(): string {
  const url = new URL(vhost.url);
  url.port = String(proxyPort);
  return url.toString();
}

describe("declareTopology, the declare-only step", () => {
  it("waits for a broker that closes connections while it starts, then declares", async () => {
    bootingUntil = Date.now() + 2_000;
    const warnings: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void warnings.push(line) });
    await declareTopology(rascalConfig({ url: throughProxy(), deliveryLimit: 5 }) as BrokerConfig, { logger });
    expect(warnings.some((line) => line.includes("broker not reachable yet"))).toBe(true);
    const queue = (await management(`/queues/${encodeURIComponent(vhost.name)}/${encodeURIComponent(TOPOLOGY.workQueue)}`)) as { name: string };
    expect(queue.name).toBe(TOPOLOGY.workQueue);
  }, 30_000);

  it("exits 0 once declared after waiting, as an init container must (AMQP_TOPOLOGY=declare-and-exit)", async () => {
    bootingUntil = Date.now() + 2_000;
    const { code, stdout } = await runToExit("handler", { AMQP_URL: throughProxy(), AMQP_TOPOLOGY: "declare-and-exit" });
    expect(stdout).toContain("broker not reachable yet");
    expect(stdout).toContain("topology declared");
    expect(code).toBe(0);
  }, 30_000);

  it("stops waiting when its signal aborts, with the last error", async () => {
    bootingUntil = Date.now() + 60_000;
    const stopping = new AbortController();
    setTimeout(() => stopping.abort(), 1_500);
    await expect(declareTopology(rascalConfig({ url: throughProxy(), deliveryLimit: 5 }) as BrokerConfig, { signal: stopping.signal })).rejects.toThrow();
    expect(stopping.signal.aborted).toBe(true);
  }, 30_000);
});
