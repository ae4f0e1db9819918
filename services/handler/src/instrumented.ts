import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { InvalidWorkError } from "./errors.ts";
import { seriesByTransport, type HandlerMetrics } from "./metrics.ts";
import type { HandleWork } from "./work.ts";

/** A Timestamp in milliseconds since the epoch, without building a Date. */
function epochMs(timestamp: Timestamp): number {
  return Number(timestamp.seconds) * 1000 + timestamp.nanos / 1_000_000;
}

/**
 * The metrics layer, outermost: counts every call under its transport by outcome (`ok`,
 * `duplicate`, `invalid` for {@link InvalidWorkError}, `failed` for any other rejection),
 * keeps the in-flight gauge, and for handled work observes the processing time and the
 * one-way delivery latency (`handled_at − sent_at`).
 */
export function instrumented(metrics: HandlerMetrics, next: HandleWork): HandleWork {
  // Labelled once per transport: a call's five updates build no label objects.
  const seriesOf = seriesByTransport(metrics);
  return async function handleMeasured(work, transport, signal) {
    const series = seriesOf(transport);
    const started = performance.now();
    series.inFlight.inc();
    try {
      const receipt = await next(work, transport, signal);
      if (receipt.duplicate) {
        series.messages.duplicate.inc();
        return receipt;
      }
      series.processingDuration.observe((performance.now() - started) / 1000);
      if (work.sentAt && receipt.handledAt) {
        const oneWay = (epochMs(receipt.handledAt) - epochMs(work.sentAt)) / 1000;
        // A skewed clock between hosts can make this negative; a histogram cannot hold it.
        series.deliveryLatency.observe(Math.max(0, oneWay));
      }
      series.messages.ok.inc();
      return receipt;
    } catch (error) {
      series.messages[error instanceof InvalidWorkError ? "invalid" : "failed"].inc();
      throw error;
    } finally {
      series.inFlight.dec();
    }
  };
}
