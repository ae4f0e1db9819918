import { Code, ConnectError, createClient, createRouterTransport, type ConnectRouter } from "@connectrpc/connect";
import { HandlerService, ObservationService } from "@switchyard/contracts";
import { createRegistry, LATENCY_BUCKETS_SECONDS } from "@switchyard/platform";
import { describe, expect, it } from "vitest";
import { NO_COST } from "../src/cost.ts";
import { Deduplicator } from "../src/dedupe.ts";
import { ReceivedLedger } from "../src/ledger.ts";
import { createHandlerMetrics } from "../src/metrics.ts";
import { newIncarnation } from "../src/observation/incarnation.ts";
import { observationRoutes } from "../src/observation/routes.ts";
import { BLOCK_SEQUENCES } from "../src/sequence-set.ts";
import { handlerRoutes } from "../src/transports/connect.ts";
import { createWorkHandler } from "../src/work.ts";
import { work } from "./support.ts";

/** A handler's data plane and measurement plane on one in-memory router. */
function handler(ledgerLimits: { runs: number; maxBlocksPerRun?: number } = { runs: 8 }) {
  const metrics = createHandlerMetrics(createRegistry("handler", "test"));
  const ledger = new ReceivedLedger(ledgerLimits);
  const incarnation = newIncarnation();
  const handleWork = createWorkHandler({
    handlerId: "handler-7",
    maxPayloadBytes: 1024,
    cost: NO_COST,
    dedupe: new Deduplicator(1000),
    ledger,
    metrics,
  });
  const transport = createRouterTransport((router: ConnectRouter) => {
    handlerRoutes({ handleWork })(router);
    observationRoutes({ handlerId: "handler-7", incarnation, ledger, metrics })(router);
  });
  return { incarnation, data: createClient(HandlerService, transport), observe: createClient(ObservationService, transport) };
}

async function codeOf(promise: Promise<unknown>): Promise<Code | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

describe("ObservationService (in memory)", () => {
  it("reports identity, incarnation, per-transport counts, latency buckets and CPU", async () => {
    const { data, observe, incarnation } = handler();
    for (const id of ["a", "b", "c"]) await data.handle({ work: work({ id, sequence: 1n }) });
    await data.handle({ work: work({ id: "a" }) });
    const status = await observe.getStatus({});
    expect(status.handlerId).toBe("handler-7");
    expect(status.incarnation?.id).toBe(incarnation.id);
    expect(status.incarnation?.id).toMatch(/^[0-9a-f]{16}$/);
    expect(status.cpuMicros).toBeGreaterThan(0n);
    expect(status.latencyBoundsSeconds).toEqual([...LATENCY_BUCKETS_SECONDS]);
    // The in-memory router speaks the Connect protocol with binary bodies.
    const counted = status.transports.find((entry) => entry.transport === "connect_proto")!;
    expect(counted).toMatchObject({ handled: 3n, duplicates: 1n });
    expect(counted.latencyBucketCounts).toHaveLength(LATENCY_BUCKETS_SECONDS.length + 1);
    expect(counted.latencyBucketCounts.reduce((sum, count) => sum + count, 0n)).toBe(3n);
    expect(status.transports.find((entry) => entry.transport === "amqp")).toMatchObject({ handled: 0n, duplicates: 0n });
  });

  it("reports the sequences handled for a run, page by page, and untracked runs as such", async () => {
    const { data, observe, incarnation } = handler();
    for (const sequence of [1n, 2n, 3n, 5n, 7n, 9n]) await data.handle({ work: work({ id: `g${sequence}`, sequence }) });
    await data.handle({ work: work({ id: "g5", sequence: 5n }) });
    const first = await observe.getReceived({ producerId: "run-1", pageSize: 2 });
    expect(first).toMatchObject({ tracked: true, handled: 6n, duplicates: 1n, overflow: 0n, handlerId: "handler-7" });
    expect(first.incarnation?.id).toBe(incarnation.id);
    expect(first.ranges.map((range) => [range.first, range.last])).toEqual([[1n, 3n], [5n, 5n]]);
    expect(first.nextAfter).toBe(5n);
    const second = await observe.getReceived({ producerId: "run-1", after: first.nextAfter!, pageSize: 2 });
    expect(second.ranges.map((range) => [range.first, range.last])).toEqual([[7n, 7n], [9n, 9n]]);
    expect(second.nextAfter).toBeUndefined();
    expect(await observe.getReceived({ producerId: "other" })).toMatchObject({ tracked: false, ranges: [], handlerId: "handler-7" });
    expect(await codeOf(observe.getReceived({ producerId: "" }))).toBe(Code.InvalidArgument);
  });

  it("reports what a run's ledger left out past its block cap", async () => {
    const { data, observe } = handler({ runs: 8, maxBlocksPerRun: 2 });
    // Four sequences in four blocks of BLOCK_SEQUENCES: the last two are past the cap.
    for (const block of [0, 1, 2, 3]) {
      const sequence = BigInt(block * BLOCK_SEQUENCES + 1);
      await data.handle({ work: work({ id: `o${sequence}`, sequence }) });
    }
    const received = await observe.getReceived({ producerId: "run-1" });
    expect(received).toMatchObject({ handled: 4n, overflow: 2n });
    expect(received.ranges).toHaveLength(2);
  });

  it("is not part of the data plane: HandlerService has Handle only", () => {
    expect(Object.keys(HandlerService.method)).toEqual(["handle"]);
  });
});
