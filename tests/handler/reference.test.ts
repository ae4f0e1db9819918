// The handler's reference endpoints (compare --reference): a grpc-js server, a node:http
// route and a raw amqplib consumer, all in front of the one layered handleWork.
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { HandleRequestSchema, WorkSchema, type HandleResponse, type Work } from "@switchyard/contracts";
import { REFERENCE_HANDLE_METHOD, REFERENCE_TOPOLOGY } from "@switchyard/platform";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestVhost, eventually, management, queueCounts, takeMessages, type TestVhost } from "../support/broker.ts";
import { runToExit } from "../support/process.ts";
import { startHandler, type RunningHandler } from "./running-handler.ts";

const work = (id: string): Work => create(WorkSchema, { id, producerId: "reference-test", sequence: 1n, sentAt: timestampNow(), payload: new Uint8Array(16) });

/** One call through a real grpc-js client: the receipt, or the status it failed with. */
function grpcJsCall(port: number, request: Work): Promise<HandleResponse | grpc.ServiceError> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const { path, requestSerialize, responseDeserialize } = REFERENCE_HANDLE_METHOD;
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, requestSerialize, responseDeserialize, create(HandleRequestSchema, { work: request }), { deadline: Date.now() + 5_000 }, (error, response) => {
      client.close();
      resolve(error ?? response!);
    });
  });
}

/** One POST of `{"work": …}` as JSON, the way any HTTP client would. */
async function post(url: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${url}/switchyard.v1.HandlerService/Handle`, { method: "POST", headers: { "content-type": "application/json" }, body });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function counted(handler: RunningHandler, transport: string, outcome: string): Promise<number> {
  const text = await (await fetch(`${handler.httpUrl}/metrics`)).text();
  const match = new RegExp(`switchyard_handler_messages_total\\{transport="${transport}",outcome="${outcome}"\\} (\\d+)`).exec(text);
  return Number(match?.[1] ?? 0);
}

describe("handler reference endpoints", () => {
  let vhost: TestVhost;
  let handler: RunningHandler;
  let grpcPort: number;
  let httpUrl: string;
  let connection: amqp.ChannelModel;
  let channel: amqp.ConfirmChannel;

  beforeAll(async () => {
    vhost = await createTestVhost();
    handler = await startHandler({ AMQP_URL: vhost.url, REFERENCE_GRPC_PORT: "0", REFERENCE_HTTP_PORT: "0", REFERENCE_AMQP: "on", SHUTDOWN_GRACE_MS: "3000" });
    await handler.app.reference.listen("127.0.0.1");
    handler.app.reference.start();
    grpcPort = handler.app.reference.grpcPort!;
    httpUrl = `http://127.0.0.1:${handler.app.reference.httpPort!}`;
    // Ready only once the reference consumer consumes, too.
    await eventually(() => handler.app.readiness.ready);
    connection = await amqp.connect(vhost.url);
    channel = await connection.createConfirmChannel();
  });
  afterAll(async () => {
    await connection?.close();
    await handler?.close();
    await vhost?.delete();
  });

  const publish = async (body: Uint8Array | string, contentType: string) => {
    channel.publish(REFERENCE_TOPOLOGY.exchange, REFERENCE_TOPOLOGY.routingKey, Buffer.from(body), { contentType, persistent: true, mandatory: true });
    await channel.waitForConfirms();
  };

  it("declares the reference queue as the work queue is declared: quorum, delivery limit, its own dead-letter exchange", async () => {
    const queue = (await management(`/queues/${encodeURIComponent(vhost.name)}/${REFERENCE_TOPOLOGY.queue}`)) as { type: string; arguments: Record<string, unknown> };
    const work = (await management(`/queues/${encodeURIComponent(vhost.name)}/switchyard.work`)) as { arguments: Record<string, unknown> };
    expect(queue.type).toBe("quorum");
    expect(queue.arguments).toEqual({ ...work.arguments, "x-dead-letter-exchange": REFERENCE_TOPOLOGY.deadExchange });
  });

  it("answers a grpc-js call with the Receipt of the same handleWork, counted as grpc_js", async () => {
    const before = await counted(handler, "grpc_js", "ok");
    const answer = await grpcJsCall(grpcPort, work("ref-grpc-1"));
    expect(answer).toMatchObject({ receipt: { workId: "ref-grpc-1", duplicate: false } });
    expect(await counted(handler, "grpc_js", "ok")).toBe(before + 1);
  });

  it("answers a plain JSON POST with the Receipt, counted as http_json", async () => {
    const before = await counted(handler, "http_json", "ok");
    const { status, json } = await post(httpUrl, '{"work":{"id":"ref-http-1","payload":"aGk="}}');
    expect(status).toBe(200);
    expect(json).toMatchObject({ receipt: { workId: "ref-http-1" } });
    expect(json.receipt).not.toHaveProperty("duplicate");
    expect(await counted(handler, "http_json", "ok")).toBe(before + 1);
  });

  it("handles a raw amqplib publish on the reference queue and acks it, counted as amqplib", async () => {
    const before = await counted(handler, "amqplib", "ok");
    await publish(toBinary(WorkSchema, work("ref-amqp-1")), "application/x-protobuf");
    await eventually(async () => (await counted(handler, "amqplib", "ok")) === before + 1);
    await eventually(async () => {
      const counts = await queueCounts(vhost.name, REFERENCE_TOPOLOGY.queue);
      return counts.ready === 0 && counts.unacked === 0;
    });
  });

  it("shares one dedupe with the library transports: a copy is a duplicate whichever way it comes", async () => {
    const connect = await fetch(`${handler.httpUrl}/switchyard.v1.HandlerService/Handle`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"work":{"id":"shared-1"}}',
    });
    expect(((await connect.json()) as { receipt: { duplicate?: boolean } }).receipt.duplicate).toBeUndefined();
    expect(await grpcJsCall(grpcPort, work("shared-1"))).toMatchObject({ receipt: { duplicate: true } });
    expect((await post(httpUrl, '{"work":{"id":"shared-1"}}')).json).toMatchObject({ receipt: { duplicate: true } });
    const duplicates = await counted(handler, "amqplib", "duplicate");
    await publish('{"id":"shared-1"}', "application/json");
    await eventually(async () => (await counted(handler, "amqplib", "duplicate")) === duplicates + 1);
  });

  it("refuses invalid work with the codes the Connect routes use, through the same validation", async () => {
    const invalid = await counted(handler, "http_json", "invalid");
    const answer = await grpcJsCall(grpcPort, create(WorkSchema, { id: "" }));
    expect(answer).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    const { status, json } = await post(httpUrl, '{"work":{"id":""}}');
    expect(status).toBe(400);
    expect(json).toMatchObject({ code: "invalid_argument" });
    expect(await counted(handler, "http_json", "invalid")).toBe(invalid + 1);
    expect((await post(httpUrl, "{not json")).json).toMatchObject({ code: "invalid_argument" });
  });

  it("dead-letters an undecodable amqplib body into the reference dead-letter queue, alone", async () => {
    await publish("\x00\x01 not a Work", "application/x-protobuf");
    await eventually(async () => (await queueCounts(vhost.name, REFERENCE_TOPOLOGY.deadQueue)).ready === 1, 30_000);
    const [dead] = await takeMessages(vhost.name, REFERENCE_TOPOLOGY.deadQueue, 1);
    expect(dead?.payload).toContain("not a Work");
    expect(handler.app.readiness.ready).toBe(true);
  });
});

describe("handler reference endpoints, off", () => {
  let vhost: TestVhost;
  let handler: RunningHandler;
  beforeAll(async () => {
    vhost = await createTestVhost();
    handler = await startHandler({ AMQP_URL: vhost.url });
    await handler.app.reference.listen("127.0.0.1");
    handler.app.reference.start();
    await eventually(() => handler.app.readiness.ready);
  });
  afterAll(async () => {
    await handler?.close();
    await vhost?.delete();
  });

  it("open no listener and declare no reference queue by default", async () => {
    expect(handler.app.reference.grpcPort).toBeUndefined();
    expect(handler.app.reference.httpPort).toBeUndefined();
    expect(await management(`/queues/${encodeURIComponent(vhost.name)}/${REFERENCE_TOPOLOGY.queue}`)).toMatchObject({ error: "Object Not Found" });
  });
});

describe("reference configuration", () => {
  it.each([
    ["handler", { REFERENCE_GRPC_PORT: "grpc" }, /^invalid configuration: REFERENCE_GRPC_PORT must be a TCP port number 0-65535 \(got "grpc"\)$/],
    ["handler", { REFERENCE_AMQP: "yes" }, /^invalid configuration: REFERENCE_AMQP must be on or off \(got "yes"\)$/],
    ["handler", { HTTP_PORT: "18080", REFERENCE_HTTP_PORT: "18080" }, /^invalid configuration: REFERENCE_HTTP_PORT must differ from HTTP_PORT \(both 18080\)$/],
    ["producer", { REFERENCE_GRPC_URLS: "https://127.0.0.1:1" }, /^invalid configuration: REFERENCE_GRPC_URLS must be comma-separated http:\/\/ URLs/],
    ["producer", { REFERENCE_AMQP: "1" }, /^invalid configuration: REFERENCE_AMQP must be on or off \(got "1"\)$/],
  ] as const)("%s: %j stops the process with one line naming it", async (service, env, message) => {
    const { code, stderr } = await runToExit(service, env);
    expect(code).toBe(1);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr.trim()).toMatch(message);
  });
});
