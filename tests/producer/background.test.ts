// Background load from the environment: live series on every transport without a run.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestVhost, eventually, type TestVhost } from "../support/broker.ts";
import { startService, type ServiceProcess } from "../support/process.ts";
import { ms, producerClient, watchToEnd } from "./support.ts";

let vhost: TestVhost;
let handler: ServiceProcess;
let producer: ServiceProcess;

beforeAll(async () => {
  vhost = await createTestVhost("switchyard-background");
  handler = await startService("handler", { AMQP_URL: vhost.url });
  producer = await startService("producer", {
    AMQP_URL: vhost.url,
    HANDLER_HTTP_URL: handler.httpUrl,
    HANDLER_GRPC_URL: handler.h2cUrl,
    BACKGROUND_RATE_GRPC: "20",
    BACKGROUND_RATE_CONNECT: "20",
    BACKGROUND_RATE_AMQP: "20",
    BACKGROUND_PAYLOAD_BYTES: "128",
  });
});

afterAll(async () => {
  await producer?.stop();
  await handler?.stop();
  await vhost?.delete();
});

function counter(text: string, name: string, labels: string): number {
  const match = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, "m").exec(text);
  return match ? Number(match[1]) : 0;
}

const scrape = async (url: string) => (await fetch(`${url}/metrics`)).text();

describe("background load", () => {
  it("sends on every transport with a rate, seen by both services' metrics", async () => {
    await eventually(async () => {
      const [sent, handled] = await Promise.all([scrape(producer.httpUrl), scrape(handler.httpUrl)]);
      return ["grpc", "connect", "amqp"].every(
        (transport) =>
          counter(sent, "switchyard_producer_messages_total", `transport="${transport}",outcome="ok"`) >= 5 &&
          counter(sent, "switchyard_producer_message_bytes_total", `transport="${transport}"`) > 128 * 5 &&
          counter(handled, "switchyard_handler_messages_total", `transport="${transport}",outcome="ok"`) >= 5,
      );
    });
  });

  it("pauses while a run runs, so the run's figures are its own", async () => {
    const client = producerClient(producer.httpUrl);
    const { run: started } = await client.startRun({
      spec: { transports: ["grpc"], end: { case: "duration", value: ms(500) }, warmup: ms(0) },
    });
    const run = await watchToEnd(client, started!.id);
    expect(run.notes).toContain("background load, if configured, pauses while a run is running");
    expect(run.phases[0]!.ledger!.lost).toBe(0n);
  });
});
