import * as hdr from "hdr-histogram-js";

/** A latency distribution summary in milliseconds; mirrors the Latency message. */
export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
  /** Latency at each of {@link DISTRIBUTION_PERCENTILES}, for plotting the tail. */
  distribution: Array<{ percentile: number; valueMs: number }>;
}

/**
 * Percentiles of the plotted distribution: p50 to p99.99 at 1/(1 − p) = 2, 4, 5, 10, 20 …
 * 10,000, so the points fall evenly on a log 1/(1 − p) axis.
 */
export const DISTRIBUTION_PERCENTILES = [50, 75, 80, 90, 95, 97.5, 98, 99, 99.5, 99.75, 99.8, 99.9, 99.95, 99.975, 99.98, 99.99];

/**
 * Records latencies in an HDR histogram with microsecond resolution and 3 significant
 * digits, from 1 µs to an hour, in constant memory however many values it holds.
 */
export class LatencyRecorder {
  readonly #histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });

  /** Records one latency in milliseconds. */
  record(ms: number): void {
    this.#histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  /** Number of latencies recorded. */
  get count(): number {
    return this.#histogram.totalCount;
  }

  /** Percentiles, max and mean so far; all zero before the first value. */
  summary(): LatencySummary {
    const h = this.#histogram;
    // A percentile reports the top of its value's bucket, which can pass the exact maximum.
    const at = (percentile: number) => Math.min(h.getValueAtPercentile(percentile), h.maxValue) / 1000;
    if (h.totalCount === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0, meanMs: 0, distribution: [] };
    return {
      count: h.totalCount,
      p50Ms: at(50),
      p90Ms: at(90),
      p99Ms: at(99),
      p999Ms: at(99.9),
      maxMs: h.maxValue / 1000,
      meanMs: h.mean / 1000,
      distribution: DISTRIBUTION_PERCENTILES.map((percentile) => ({ percentile, valueMs: at(percentile) })),
    };
  }
}
