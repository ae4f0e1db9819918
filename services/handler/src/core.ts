import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ReceiptSchema, type Receipt, type Work } from "@switchyard/contracts";
import { spend, type SimulatedCost } from "./cost.ts";
import type { HandleWork } from "./work.ts";

/** What the core needs: who is handling, what it costs, and the clock. */
export interface CoreDeps {
  handlerId: string;
  cost: SimulatedCost;
  now: () => Date;
}

/** The Receipt for `work`, handled (or found already handled) by `handlerId` at `handledAt`. */
export function receiptFor(work: Work, handlerId: string, handledAt: Date, duplicate: boolean): Receipt {
  return create(ReceiptSchema, { workId: work.id, handlerId, handledAt: timestampFromDate(handledAt), duplicate });
}

/**
 * The work itself, and nothing else: no validation, no deduplication, no metrics, no
 * transport. Spends the simulated cost and returns a non-duplicate Receipt; rejects with
 * the signal's reason or a `HandlingFailedError` when that fails. A real handler
 * replaces this function and keeps the layers around it.
 */
export function handleCore({ handlerId, cost, now }: CoreDeps): HandleWork {
  if (cost.delayMs === 0 && cost.cpuMs === 0 && cost.failureRatio === 0) {
    // No simulated cost (production's default): what spend() would do is the signal
    // check alone, without its async frame and await per call.
    return function core(work, _transport, signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      return Promise.resolve(receiptFor(work, handlerId, now(), false));
    };
  }
  return async function core(work, _transport, signal) {
    await spend(cost, signal);
    return receiptFor(work, handlerId, now(), false);
  };
}
