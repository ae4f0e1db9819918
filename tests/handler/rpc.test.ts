import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { HandlerService, WorkSchema } from "@switchyard/contracts";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "@switchyard/contracts/health";
import { describe, expect, it } from "vitest";
import { useHandlerOnOwnVhost } from "./running-handler.ts";

const fixture = useHandlerOnOwnVhost({
  MAX_PAYLOAD_BYTES: "4096",
  READ_MAX_BYTES: "65536",
  // A request refused mid-body leaves its HTTP/2 stream open; keep the forced close quick.
  SHUTDOWN_GRACE_MS: "2000",
});

const grpc = () => createClient(HandlerService, createGrpcTransport({ baseUrl: fixture().handler.h2cUrl }));

async function post(path: string, body: RequestInit["body"], contentType: string) {
  const response = await fetch(`${fixture().handler.httpUrl}${path}`, { method: "POST", headers: { "content-type": contentType }, body });
  return { status: response.status, body: (await response.json()) as { code?: string; message?: string; receipt?: unknown } };
}

describe("handler over real listeners", () => {
  it("answers Connect JSON over HTTP/1.1 with a Receipt, as curl would", async () => {
    const { status, body } = await post(
      "/switchyard.v1.HandlerService/Handle",
      '{"work":{"id":"curl-1","payload":"aGk="}}',
      "application/json",
    );
    expect(status).toBe(200);
    expect(body.receipt).toMatchObject({ workId: "curl-1", handlerId: expect.any(String) });
  });

  it("answers gRPC over h2c with the same Receipt", async () => {
    const { receipt } = await grpc().handle({ work: { id: "grpc-1", payload: new Uint8Array(3) } });
    expect(receipt).toMatchObject({ workId: "grpc-1", duplicate: false });
    const again = await grpc().handle({ work: { id: "grpc-1" } });
    expect(again.receipt?.duplicate).toBe(true);
  });

  it("answers the Connect protocol with binary protobuf", async () => {
    const client = createClient(HandlerService, createConnectTransport({ baseUrl: fixture().handler.httpUrl, httpVersion: "1.1", useBinaryFormat: true }));
    expect((await client.handle({ work: { id: "bin-1" } })).receipt?.workId).toBe("bin-1");
  });

  it("answers gRPC-Web over HTTP/1.1, counted under its own transport label", async () => {
    const client = createClient(HandlerService, createGrpcWebTransport({ baseUrl: fixture().handler.httpUrl, httpVersion: "1.1" }));
    expect((await client.handle({ work: { id: "web-1" } })).receipt?.workId).toBe("web-1");
    const metrics = await (await fetch(`${fixture().handler.httpUrl}/metrics`)).text();
    expect(metrics).toContain('switchyard_handler_messages_total{transport="grpc_web",outcome="ok"} 1');
  });

  it("reports SERVING through grpc.health.v1 on h2c", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: fixture().handler.h2cUrl }));
    expect((await health.check({ service: "" })).status).toBe(Serving.SERVING);
    expect((await health.check({ service: "switchyard.v1.HandlerService" })).status).toBe(Serving.SERVING);
    await expect(health.check({ service: "no.such.Service" })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("answers malformed JSON with invalid_argument and keeps serving", async () => {
    const { status, body } = await post("/switchyard.v1.HandlerService/Handle", '{"work":', "application/json");
    expect(status).toBe(400);
    expect(body.code).toBe("invalid_argument");
    expect((await grpc().handle({ work: { id: "after-bad-json" } })).receipt?.workId).toBe("after-bad-json");
  });

  it("answers undecodable binary protobuf with internal, the code connect-es gives a body it cannot parse, and keeps serving", async () => {
    const garbage = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff]);
    const { status, body } = await post("/switchyard.v1.HandlerService/Handle", garbage, "application/proto");
    expect(status).toBe(500);
    expect(body).toMatchObject({ code: "internal", message: expect.stringMatching(/^parse binary/) });
    expect((await grpc().handle({ work: { id: "after-bad-binary" } })).receipt?.workId).toBe("after-bad-binary");
  });

  it("answers a body over READ_MAX_BYTES with resource_exhausted", async () => {
    const big = toBinary(WorkSchema, create(WorkSchema, { id: "big", payload: new Uint8Array(70_000) }));
    const { body } = await post("/switchyard.v1.HandlerService/Handle", big, "application/proto");
    expect(body.code).toBe("resource_exhausted");
    await expect(grpc().handle({ work: { id: "big", payload: new Uint8Array(70_000) } })).rejects.toMatchObject({
      code: Code.ResourceExhausted,
    });
  });

  it("answers work without id, or with a payload over the limit, with invalid_argument naming the field", async () => {
    const { body } = await post("/switchyard.v1.HandlerService/Handle", '{"work":{"payload":"aGk="}}', "application/json");
    expect(body).toMatchObject({ code: "invalid_argument", message: "work.id is required" });
    const error = await grpc()
      .handle({ work: { id: "too-big", payload: new Uint8Array(5000) } })
      .catch((caught: unknown) => ConnectError.from(caught));
    expect(error).toMatchObject({ code: Code.InvalidArgument, rawMessage: "work.payload is 5000 bytes, over the limit of 4096" });
  });
});

describe("handler with a simulated cost longer than the caller's deadline", () => {
  const slowFixture = useHandlerOnOwnVhost({ SIMULATED_DELAY_MS: "1000", SHUTDOWN_GRACE_MS: "2000" });
  const slow = () => slowFixture().handler;

  it("answers deadline_exceeded over gRPC and Connect, and does not count the work as handled", async () => {
    const client = createClient(HandlerService, createGrpcTransport({ baseUrl: slow().h2cUrl }));
    await expect(client.handle({ work: { id: "late-1" } }, { timeoutMs: 100 })).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    const connect = createClient(HandlerService, createConnectTransport({ baseUrl: slow().httpUrl, httpVersion: "1.1" }));
    await expect(connect.handle({ work: { id: "late-2" } }, { timeoutMs: 100 })).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    const metrics = await (await fetch(`${slow().httpUrl}/metrics`)).text();
    expect(metrics).toContain('switchyard_handler_messages_total{transport="grpc",outcome="ok"} 0');
    expect(metrics).toContain('switchyard_handler_messages_total{transport="connect",outcome="ok"} 0');
    // Not counted as handled, so not remembered: given time, the same id is handled.
    expect((await client.handle({ work: { id: "late-1" } }, { timeoutMs: 5000 })).receipt?.duplicate).toBe(false);
  });
});
