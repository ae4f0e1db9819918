import type { Receipt, Work } from "@switchyard/contracts";
import type { Transport } from "@switchyard/platform";
import { handleCore, receiptFor } from "./core.ts";
import type { SimulatedCost } from "./cost.ts";
import { deduplicated, type Deduplicator } from "./dedupe.ts";
import { instrumented } from "./instrumented.ts";
import type { ReceivedLedger } from "./ledger.ts";
import type { HandlerMetrics } from "./metrics.ts";
import { recorded } from "./recorded.ts";
import { validated } from "./validate.ts";

export { validateWork } from "./validate.ts";

/** What {@link createWorkHandler} needs; everything a test may want to replace. */
export interface WorkHandlerDeps {
  handlerId: string;
  maxPayloadBytes: number;
  cost: SimulatedCost;
  dedupe: Deduplicator;
  ledger: ReceivedLedger;
  metrics: HandlerMetrics;
  now?: () => Date;
}

/**
 * Handles one Work that arrived over `transport` and returns its Receipt. Resolves for
 * handled work, and with `duplicate: true` for a copy of work that was handled; rejects
 * with `InvalidWorkError` for work that can never succeed, or with the failure or the
 * signal's reason otherwise — and then the work counts as not handled, so a redelivery or
 * retry is handled rather than reported as a duplicate.
 */
export type HandleWork = (work: Work, transport: Transport, signal?: AbortSignal) => Promise<Receipt>;

/**
 * Creates `handleWork`, the one function behind every transport, as layers around a pure
 * core, outermost first:
 *
 * `instrumented` (metrics) → `validated` → `recorded` (the run ledger) → `deduplicated` → core.
 *
 * Validation comes first so invalid work takes no dedupe memory; the ledger sits outside
 * deduplication so it sees every Receipt (handled or duplicate) and nothing else. None of
 * the layers knows a transport beyond the label it counts under.
 */
export function createWorkHandler(deps: WorkHandlerDeps): HandleWork {
  const now = deps.now ?? (() => new Date());
  const core = handleCore({ handlerId: deps.handlerId, cost: deps.cost, now });
  const duplicateReceipt = (work: Work) => receiptFor(work, deps.handlerId, now(), true);
  return instrumented(
    deps.metrics,
    validated(deps.maxPayloadBytes, recorded(deps.ledger, deduplicated(deps.dedupe, duplicateReceipt, core))),
  );
}
