import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ReceiptSchema, type Receipt, type Work } from "@switchyard/contracts";
import type { Transport } from "@switchyard/platform";
import { spend, type SimulatedCost } from "./cost.ts";
import type { Deduplicator } from "./dedupe.ts";
import { InvalidWorkError } from "./errors.ts";
import type { ReceivedLedger } from "./ledger.ts";
import type { HandlerMetrics } from "./metrics.ts";

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
 * handled and duplicate work; rejects with {@link InvalidWorkError} for work that can
 * never succeed, or with the failure or the signal's reason otherwise, in which case the
 * id is released so a redelivery is handled rather than reported as a duplicate.
 */
export type HandleWork = (work: Work, transport: Transport, signal?: AbortSignal) => Promise<Receipt>;

/**
 * Creates `handleWork`: the one function behind all three transports. It knows nothing
 * of them beyond the label it counts under.
 */
export function createWorkHandler(deps: WorkHandlerDeps): HandleWork {
  const { metrics, dedupe, ledger } = deps;
  const now = deps.now ?? (() => new Date());

  const receipt = (work: Work, duplicate: boolean, handledAt: Date) =>
    create(ReceiptSchema, {
      workId: work.id,
      handlerId: deps.handlerId,
      handledAt: timestampFromDate(handledAt),
      duplicate,
    });

  const track = (work: Work) => {
    if (work.producerId !== "" && work.sequence > 0n) ledger.record(work.producerId, Number(work.sequence));
  };

  return async function handleWork(work, transport, signal) {
    try {
      validateWork(work, deps.maxPayloadBytes);
    } catch (error) {
      metrics.messages.inc({ transport, outcome: "invalid" });
      throw error;
    }
    if (!dedupe.claim(work.id)) {
      track(work);
      metrics.messages.inc({ transport, outcome: "duplicate" });
      return receipt(work, true, now());
    }
    const started = performance.now();
    metrics.inFlight.inc({ transport });
    try {
      await spend(deps.cost, signal);
    } catch (error) {
      dedupe.release(work.id);
      metrics.messages.inc({ transport, outcome: "failed" });
      throw error;
    } finally {
      metrics.inFlight.dec({ transport });
    }
    const handledAt = now();
    track(work);
    metrics.processingDuration.observe({ transport }, (performance.now() - started) / 1000);
    if (work.sentAt) {
      const oneWay = (handledAt.getTime() - timestampDate(work.sentAt).getTime()) / 1000;
      // A skewed clock between hosts can make this negative; a histogram cannot hold it.
      metrics.deliveryLatency.observe({ transport }, Math.max(0, oneWay));
    }
    metrics.messages.inc({ transport, outcome: "ok" });
    return receipt(work, false, handledAt);
  };
}

/** Largest sequence the ledger can track exactly (JavaScript numbers are doubles). */
const MAX_SEQUENCE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Checks what every Work must satisfy, whatever its transport.
 *
 * @throws InvalidWorkError naming the first offending field.
 */
export function validateWork(work: Work, maxPayloadBytes: number): void {
  if (work.id === "") throw new InvalidWorkError("work.id", "is required");
  if (work.id.length > 256) throw new InvalidWorkError("work.id", "must be at most 256 characters");
  if (work.payload.byteLength > maxPayloadBytes) {
    throw new InvalidWorkError(
      "work.payload",
      `is ${work.payload.byteLength} bytes, over the limit of ${maxPayloadBytes}`,
    );
  }
  if (work.sequence > MAX_SEQUENCE) {
    throw new InvalidWorkError("work.sequence", `must be at most ${MAX_SEQUENCE}`);
  }
}
