import { timestampDate } from "@bufbuild/protobuf/wkt";
import { InvalidWorkError } from "./errors.ts";
import type { HandlerMetrics } from "./metrics.ts";
import type { HandleWork } from "./work.ts";

/**
 * The metrics layer, outermost: counts every call under its transport by outcome (`ok`,
 * `duplicate`, `invalid` for {@link InvalidWorkError}, `failed` for any other rejection),
 * keeps the in-flight gauge, and for handled work observes the processing time and the
 * one-way delivery latency (`handled_at − sent_at`).
 */
export function instrumented(metrics: HandlerMetrics, next: HandleWork): HandleWork {
  return async function handleMeasured(work, transport, signal) {
    const started = performance.now();
    metrics.inFlight.inc({ transport });
    try {
      const receipt = await next(work, transport, signal);
      if (receipt.duplicate) {
        metrics.messages.inc({ transport, outcome: "duplicate" });
        return receipt;
      }
      metrics.processingDuration.observe({ transport }, (performance.now() - started) / 1000);
      if (work.sentAt && receipt.handledAt) {
        const oneWay = (timestampDate(receipt.handledAt).getTime() - timestampDate(work.sentAt).getTime()) / 1000;
        // A skewed clock between hosts can make this negative; a histogram cannot hold it.
        metrics.deliveryLatency.observe({ transport }, Math.max(0, oneWay));
      }
      metrics.messages.inc({ transport, outcome: "ok" });
      return receipt;
    } catch (error) {
      metrics.messages.inc({ transport, outcome: error instanceof InvalidWorkError ? "invalid" : "failed" });
      throw error;
    } finally {
      metrics.inFlight.dec({ transport });
    }
  };
}
