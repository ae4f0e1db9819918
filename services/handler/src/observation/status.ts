import { LATENCY_BUCKETS_SECONDS, EXTRA_TRANSPORTS, REFERENCE_TRANSPORTS, TRANSPORTS, type Transport } from "@switchyard/platform";
import type { HandlerMetrics } from "../metrics.ts";

/** What one replica handled over one transport since it started; mirrors TransportStatus. */
export interface TransportCounts {
  transport: Transport;
  handled: number;
  duplicates: number;
  /** Non-cumulative counts per {@link LATENCY_BUCKETS_SECONDS} bound, then one above the last. */
  latencyBucketCounts: number[];
  latencySumSeconds: number;
}

/**
 * Reads the per-transport counts out of the handler's own metric objects, in process:
 * the metrics layer already counts every Receipt, so the observation plane reads those
 * counters rather than keeping a second set that could disagree with /metrics.
 */
export async function transportCounts(metrics: HandlerMetrics): Promise<TransportCounts[]> {
  const [messages, latency] = await Promise.all([metrics.messages.get(), metrics.deliveryLatency.get()]);
  const counts = new Map<string, TransportCounts>(
    [...TRANSPORTS, ...EXTRA_TRANSPORTS, ...REFERENCE_TRANSPORTS].map((transport) => [
      transport,
      { transport, handled: 0, duplicates: 0, latencyBucketCounts: new Array(LATENCY_BUCKETS_SECONDS.length + 1).fill(0), latencySumSeconds: 0 },
    ]),
  );
  for (const { labels, value } of messages.values) {
    const entry = counts.get(String(labels.transport));
    if (!entry) continue;
    if (labels.outcome === "ok") entry.handled += value;
    else if (labels.outcome === "duplicate") entry.duplicates += value;
  }
  // prom-client reports cumulative `le` buckets; the answer carries each bucket's own count.
  const cumulative = new Map<string, number[]>();
  for (const { labels, value, metricName } of latency.values) {
    const entry = counts.get(String(labels.transport));
    if (!entry) continue;
    if (metricName?.endsWith("_sum")) entry.latencySumSeconds = value;
    if (!metricName?.endsWith("_bucket")) continue;
    const le = (labels as Record<string, string | number | undefined>).le;
    const index = le === "+Inf" ? LATENCY_BUCKETS_SECONDS.length : LATENCY_BUCKETS_SECONDS.indexOf(Number(le));
    if (index < 0) continue;
    let buckets = cumulative.get(entry.transport);
    if (!buckets) cumulative.set(entry.transport, (buckets = new Array(LATENCY_BUCKETS_SECONDS.length + 1).fill(0)));
    buckets[index] = value;
  }
  for (const [transport, buckets] of cumulative) {
    counts.get(transport)!.latencyBucketCounts = buckets.map((value, index) => value - (index > 0 ? buckets[index - 1]! : 0));
  }
  return [...counts.values()];
}
