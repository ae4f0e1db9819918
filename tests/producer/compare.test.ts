// A real handler and a real producer, as processes, on a real RabbitMQ vhost.
import { PhaseState, RunState } from "@switchyard/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestVhost, type TestVhost } from "../support/broker.ts";
import { startService, type ServiceProcess } from "../support/process.ts";
import { ms, producerClient, untilMeasuring, watchToEnd } from "./support.ts";

let vhost: TestVhost;
let handler: ServiceProcess;
let producer: ServiceProcess;

beforeAll(async () => {
  vhost = await createTestVhost("switchyard-producer");
  handler = await startService("handler", { AMQP_URL: vhost.url });
  producer = await startService("producer", {
    AMQP_URL: vhost.url,
    HANDLER_HTTP_URL: handler.httpUrl,
    HANDLER_GRPC_URL: handler.h2cUrl,
    PRODUCER_ID: "it-compare",
  });
});

afterAll(async () => {
  await producer?.stop();
  await handler?.stop();
  await vhost?.delete();
});

describe("a run over every transport", () => {
  it("finishes with nothing lost and consistent figures", async () => {
    const client = producerClient(producer.httpUrl);
    const { run: started } = await client.startRun({
      spec: { payloadBytes: [64, 16384], load: { case: "concurrency", value: 8 }, end: { case: "duration", value: ms(1000) }, warmup: ms(200) },
    });
    const run = await watchToEnd(client, started!.id);
    expect(run.state).toBe(RunState.SUCCEEDED);
    expect(run.phases.map((phase) => `${phase.transport}/${phase.payloadBytes}`)).toEqual([
      "grpc/64", "grpc/16384", "connect/64", "connect/16384", "amqp/64", "amqp/16384",
    ]);
    const producerIds = new Set(run.phases.map((phase) => phase.producerId));
    expect(producerIds.size).toBe(run.phases.length);
    for (const phase of run.phases) {
      const where = `${phase.transport} ${phase.payloadBytes}`;
      expect(phase.state, where).toBe(PhaseState.DONE);
      expect(phase.notes, where).toEqual([]);
      // Counts add up.
      const outcomeTotal = Object.values(phase.outcomes).reduce((sum, count) => sum + count, 0n);
      expect(outcomeTotal, where).toBe(phase.completed);
      expect(phase.completed, where).toBe(phase.sent);
      expect(phase.errors, where).toBe(phase.completed - (phase.outcomes.ok ?? 0n));
      expect(phase.errors, where).toBe(0n);
      expect(phase.throughput, where).toBeGreaterThan(0);
      // Percentiles are ordered.
      const latency = phase.latency!;
      expect(latency.count, where).toBe(phase.outcomes.ok);
      expect(latency.p50Ms, where).toBeGreaterThan(0);
      expect(latency.p50Ms, where).toBeLessThanOrEqual(latency.p90Ms);
      expect(latency.p90Ms, where).toBeLessThanOrEqual(latency.p99Ms);
      expect(latency.p99Ms, where).toBeLessThanOrEqual(latency.p999Ms);
      expect(latency.p999Ms, where).toBeLessThanOrEqual(latency.maxMs);
      // The ledger balances: everything acknowledged was received, once.
      const ledger = phase.ledger!;
      expect(ledger.tracked, where).toBe(true);
      expect(ledger.lost, where).toBe(0n);
      expect(ledger.duplicated, where).toBe(0n);
      expect(ledger.acknowledged, where).toBe(ledger.sent);
      expect(ledger.received, where).toBe(ledger.acknowledged);
      expect(ledger.sent, where).toBeGreaterThan(phase.sent);
      // Body sizes, CPU and the handler's side were all measured.
      expect(phase.bytesPerMessage, where).toBeGreaterThan(phase.payloadBytes);
      expect(phase.producerCpuMsPer1k, where).toBeGreaterThan(0);
      expect(phase.handlerCpuMsPer1k, where).toBeGreaterThan(0);
      expect(phase.handlerLatency!.count, where).toBeGreaterThan(0n);
      expect(phase.handlerLatency!.p50Ms, where).toBeLessThanOrEqual(phase.handlerLatency!.p99Ms);
    }
    // JSON carries more bytes than binary protobuf for the same Work.
    const bytes = (transport: string) => run.phases.find((phase) => phase.transport === transport && phase.payloadBytes === 16384)!.bytesPerMessage;
    expect(bytes("connect")).toBeGreaterThan(bytes("grpc"));

    const metrics = await (await fetch(`${producer.httpUrl}/metrics`)).text();
    for (const transport of ["grpc", "connect", "amqp"]) {
      const ok = new RegExp(`switchyard_producer_messages_total\\{transport="${transport}",outcome="ok"\\} (\\d+)`).exec(metrics);
      expect(Number(ok?.[1]), transport).toBeGreaterThan(0);
    }
  });

  it("stops a run on request, keeping the partial phase", async () => {
    const client = producerClient(producer.httpUrl);
    const { run: started } = await client.startRun({ spec: { end: { case: "duration", value: ms(60_000) }, warmup: ms(0) } });
    await untilMeasuring(client, started!.id, 0, 50);
    const { run } = await client.stopRun({ id: started!.id });
    expect(run!.state).toBe(RunState.STOPPED);
    expect(run!.phases.map((phase) => phase.state)).toEqual([PhaseState.STOPPED, PhaseState.SKIPPED, PhaseState.SKIPPED]);
    const partial = run!.phases[0]!;
    expect(partial.completed).toBeGreaterThan(0n);
    expect(partial.notes).toContain("stopped before the end; figures cover what was sent until then");
    expect((await client.getRun({ id: started!.id })).run!.state).toBe(RunState.STOPPED);
  });
});
