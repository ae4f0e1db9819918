// The producer's reference senders against a real handler's reference endpoints and a
// real broker: every way a send can end, as the library senders report it.
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { WorkSchema, type Work } from "@switchyard/contracts";
import { REFERENCE_TOPOLOGY } from "@switchyard/platform";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AmqplibSender } from "../../services/producer/src/senders/reference/amqplib.ts";
import { GrpcJsSender } from "../../services/producer/src/senders/reference/grpc-js.ts";
import { HttpJsonSender } from "../../services/producer/src/senders/reference/http-json.ts";
import { createTestVhost, eventually, management, type TestVhost } from "../support/broker.ts";
import { startService, type ServiceProcess } from "../support/process.ts";
import { startHandler, type RunningHandler } from "../handler/running-handler.ts";
import { closedPort, producerClient } from "./support.ts";

let sequence = 0;
const work = (): Work => create(WorkSchema, { id: `reference-sender-${++sequence}`, producerId: "reference-senders", sequence: BigInt(sequence), sentAt: timestampNow(), payload: new Uint8Array(32) });
const logger = pino({ level: "silent" });

describe("reference senders", () => {
  let vhost: TestVhost;
  let handler: RunningHandler;
  let grpcUrl: string;
  let httpUrl: string;

  beforeAll(async () => {
    vhost = await createTestVhost();
    // Every message waits 300 ms in the handler, so a 100 ms deadline passes first.
    handler = await startHandler({ AMQP_URL: vhost.url, REFERENCE_GRPC_PORT: "0", REFERENCE_HTTP_PORT: "0", REFERENCE_AMQP: "on", SIMULATED_DELAY_MS: "300", SHUTDOWN_GRACE_MS: "3000" });
    await handler.app.reference.listen("127.0.0.1");
    handler.app.reference.start();
    await eventually(() => handler.app.readiness.ready);
    grpcUrl = `http://127.0.0.1:${handler.app.reference.grpcPort!}`;
    httpUrl = `http://127.0.0.1:${handler.app.reference.httpPort!}`;
  });
  afterAll(async () => {
    await handler?.close();
    await vhost?.delete();
  });

  it.each([
    ["grpc_js", () => new GrpcJsSender(grpcUrl)],
    ["http_json", () => new HttpJsonSender(httpUrl)],
  ])("%s: ok within the deadline, deadline_exceeded past it", async (_, make) => {
    const sender = make();
    try {
      expect(await sender.send(work(), 5_000)).toMatchObject({ outcome: "ok" });
      expect((await sender.send(work(), 100)).outcome).toBe("deadline_exceeded");
      expect((await sender.send(create(WorkSchema, { id: "" }), 5_000)).outcome).toBe("invalid_argument");
    } finally {
      await sender.close();
    }
  });

  it.each([
    ["grpc_js", (url: string) => new GrpcJsSender(url)],
    ["http_json", (url: string) => new HttpJsonSender(url)],
  ])("%s: unavailable when nothing listens", async (_, make) => {
    const sender = make(`http://127.0.0.1:${await closedPort()}`);
    try {
      expect((await sender.send(work(), 2_000)).outcome).toBe("unavailable");
    } finally {
      await sender.close();
    }
  });

  it("amqplib: ok on the broker's confirm, returned once the queue is unbound, unavailable without a broker", async () => {
    const sender = new AmqplibSender({ url: vhost.url, window: 4, deliveryLimit: 5, logger });
    try {
      const sent = await sender.send(work(), 5_000);
      expect(sent.outcome).toBe("ok");
      expect(sent.bytes).toBeGreaterThan(32);
      await management(`/bindings/${encodeURIComponent(vhost.name)}/e/${REFERENCE_TOPOLOGY.exchange}/q/${REFERENCE_TOPOLOGY.queue}/${REFERENCE_TOPOLOGY.routingKey}`, { method: "DELETE" });
      expect((await sender.send(work(), 5_000)).outcome).toBe("returned");
    } finally {
      await sender.close();
    }
    const nowhere = new AmqplibSender({ url: `amqp://guest:guest@127.0.0.1:${await closedPort()}/`, window: 4, deliveryLimit: 5, logger });
    expect((await nowhere.send(work(), 2_000)).outcome).toBe("unavailable");
    await nowhere.close();
  });
});

describe("a producer without reference senders", () => {
  let vhost: TestVhost;
  let producer: ServiceProcess;
  beforeAll(async () => {
    vhost = await createTestVhost();
    producer = await startService("producer", { AMQP_URL: vhost.url, PRODUCER_ID: "no-reference" });
  });
  afterAll(async () => {
    await producer?.stop();
    await vhost?.delete();
  });

  it("refuses a run over a reference transport, naming it", async () => {
    const error = await producerClient(producer.httpUrl).startRun({ spec: { transports: ["grpc", "amqplib"] } }).catch((caught: unknown) => ConnectError.from(caught));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    expect((error as ConnectError).rawMessage).toContain("amqplib, which this producer is not configured to send over");
  });
});
