import { LATENCY_BUCKETS_SECONDS, TRANSPORTS, type Transport } from "@switchyard/platform";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Outcome label values of `switchyard_handler_messages_total`. */
export const HANDLER_OUTCOMES = ["ok", "duplicate", "invalid", "failed", "dead_lettered"] as const;

/** One of {@link HANDLER_OUTCOMES}. */
export type HandlerOutcome = (typeof HANDLER_OUTCOMES)[number];

/** The handler's Contract metrics, registered on the service's own registry. */
export interface HandlerMetrics {
  messages: Counter<"transport" | "outcome">;
  deliveryLatency: Histogram<"transport">;
  processingDuration: Histogram<"transport">;
  inFlight: Gauge<"transport">;
  /** What {@link seriesByTransport} counts between reads; published into the metrics above whenever they are read. */
  readonly tallies: Tallies;
}

/**
 * Per-call counts the metrics layer keeps as plain numbers: a prom-client update
 * validates and hashes its labels every time, and the counter and the gauge are
 * updated on every call. Reading either metric (a scrape, the observation API, a test)
 * runs its `collect`, which publishes these first, so every read sees every count.
 */
class Tallies {
  /** Calls finished per transport and outcome, not yet added to the counter. */
  readonly finished: Array<{ labels: { transport: Transport; outcome: HandlerOutcome }; pending: number }> = [];
  /** Calls in flight per transport, the gauge's value for the transports used so far. */
  readonly inFlight: Array<{ labels: { transport: Transport }; value: number }> = [];
}

/**
 * Registers the handler's metrics on `registry`, with the shared latency buckets. Every
 * transport/outcome series starts at zero so `rate()` and dashboards see each series
 * from the first scrape, not from its first event.
 */
export function createHandlerMetrics(registry: Registry): HandlerMetrics {
  const registers = [registry];
  const buckets = [...LATENCY_BUCKETS_SECONDS];
  const tallies = new Tallies();
  const metrics: HandlerMetrics = {
    messages: new Counter({
      name: "switchyard_handler_messages_total",
      help: "Messages the handler finished, by transport and outcome.",
      labelNames: ["transport", "outcome"] as const,
      registers,
      // Direct inc() calls (the AMQP adapter's dead_lettered and invalid) add to the same series.
      collect() {
        for (const tally of tallies.finished) {
          if (tally.pending === 0) continue;
          this.inc(tally.labels, tally.pending);
          tally.pending = 0;
        }
      },
    }),
    deliveryLatency: new Histogram({
      name: "switchyard_handler_delivery_latency_seconds",
      help: "One-way latency: handled_at minus Work.sent_at.",
      labelNames: ["transport"] as const,
      buckets,
      registers,
    }),
    processingDuration: new Histogram({
      name: "switchyard_handler_processing_duration_seconds",
      help: "Time spent inside handleWork.",
      labelNames: ["transport"] as const,
      buckets,
      registers,
    }),
    inFlight: new Gauge({
      name: "switchyard_handler_in_flight",
      help: "Messages being handled now.",
      labelNames: ["transport"] as const,
      registers,
      collect() {
        for (const tally of tallies.inFlight) this.set(tally.labels, tally.value);
      },
    }),
    tallies,
  };
  for (const transport of TRANSPORTS) {
    for (const outcome of HANDLER_OUTCOMES) metrics.messages.inc({ transport, outcome }, 0);
    metrics.deliveryLatency.zero({ transport });
    metrics.processingDuration.zero({ transport });
    metrics.inFlight.set({ transport }, 0);
  }
  return metrics;
}

/** The handler's series of one transport, labelled once: what the metrics layer updates per call. */
export interface TransportSeries {
  messages: Record<HandlerOutcome, { inc(): void }>;
  deliveryLatency: { observe(seconds: number): void };
  processingDuration: { observe(seconds: number): void };
  inFlight: { inc(): void; dec(): void };
}

/**
 * Each transport's series of `metrics`, built on first use and kept: the histograms'
 * labelled children, and for the outcome counter and the in-flight gauge plain tallies
 * that the metrics publish when read ({@link Tallies}). Same series, same values as
 * updating the metrics with `{ transport, outcome }` labels on every call.
 */
export function seriesByTransport(metrics: HandlerMetrics): (transport: Transport) => TransportSeries {
  const cache = new Map<Transport, TransportSeries>();
  return (transport) => {
    let series = cache.get(transport);
    if (!series) {
      const messages = Object.fromEntries(
        HANDLER_OUTCOMES.map((outcome) => {
          const tally = { labels: { transport, outcome }, pending: 0 };
          metrics.tallies.finished.push(tally);
          return [outcome, { inc: () => void tally.pending++ }];
        }),
      ) as Record<HandlerOutcome, { inc(): void }>;
      const inFlight = { labels: { transport }, value: 0 };
      metrics.tallies.inFlight.push(inFlight);
      series = {
        messages,
        deliveryLatency: metrics.deliveryLatency.labels({ transport }),
        processingDuration: metrics.processingDuration.labels({ transport }),
        inFlight: { inc: () => void inFlight.value++, dec: () => void inFlight.value-- },
      };
      cache.set(transport, series);
    }
    return series;
  };
}
