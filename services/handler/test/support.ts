import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { WorkSchema, type Work } from "@switchyard/contracts";
import { createRegistry } from "@switchyard/platform";
import type { Registry } from "prom-client";
import { NO_COST, type SimulatedCost } from "../src/cost.ts";
import { Deduplicator } from "../src/dedupe.ts";
import { ReceivedLedger } from "../src/ledger.ts";
import { createHandlerMetrics } from "../src/metrics.ts";
import { createWorkHandler, type HandleWork } from "../src/work.ts";

/** A Work with sensible defaults for tests. */
export function work(fields: Partial<Omit<Work, "$typeName">> = {}): Work {
  return create(WorkSchema, {
    id: "w-1",
    producerId: "run-1",
    sequence: 1n,
    sentAt: timestampFromDate(new Date()),
    payload: new Uint8Array(8),
    ...fields,
  });
}

/** handleWork wired to fresh collaborators, returned alongside them. */
export function workHandler(options: { cost?: Partial<SimulatedCost>; maxPayloadBytes?: number } = {}): {
  handleWork: HandleWork;
  ledger: ReceivedLedger;
  registry: Registry;
} {
  const registry = createRegistry("handler", "test");
  const ledger = new ReceivedLedger(8);
  const handleWork = createWorkHandler({
    handlerId: "test-handler",
    maxPayloadBytes: options.maxPayloadBytes ?? 1024,
    cost: { ...NO_COST, ...options.cost },
    dedupe: new Deduplicator(1000),
    ledger,
    metrics: createHandlerMetrics(registry),
  });
  return { handleWork, ledger, registry };
}

/** The value of one series of `switchyard_handler_messages_total`. */
export async function handledCount(registry: Registry, transport: string, outcome: string): Promise<number> {
  const metric = await registry.getSingleMetric("switchyard_handler_messages_total")!.get();
  return metric.values.find((v) => v.labels.transport === transport && v.labels.outcome === outcome)?.value ?? 0;
}
