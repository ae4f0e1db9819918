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
}

/**
 * Registers the handler's metrics on `registry`, with the shared latency buckets. Every
 * transport/outcome series starts at zero so `rate()` and dashboards see each series
 * from the first scrape, not from its first event.
 */
export function createHandlerMetrics(registry: Registry): HandlerMetrics {
  const registers = [registry];
  const buckets = [...LATENCY_BUCKETS_SECONDS];
  const metrics: HandlerMetrics = {
    messages: new Counter({
      name: "switchyard_handler_messages_total",
      help: "Messages the handler finished, by transport and outcome.",
      labelNames: ["transport", "outcome"] as const,
      registers,
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
    }),
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
 * The labelled children of `metrics` for each transport, built on first use and kept, so
 * a call updates its series without building label objects for each of its five updates.
 * Same series, same values as calling the metrics with `{ transport, outcome }` labels.
 */
export function seriesByTransport(metrics: HandlerMetrics): (transport: Transport) => TransportSeries {
  const cache = new Map<Transport, TransportSeries>();
  return (transport) => {
    let series = cache.get(transport);
    if (!series) {
      const messages = Object.fromEntries(
        HANDLER_OUTCOMES.map((outcome) => [outcome, metrics.messages.labels({ transport, outcome })]),
      ) as Record<HandlerOutcome, { inc(): void }>;
      series = {
        messages,
        deliveryLatency: metrics.deliveryLatency.labels({ transport }),
        processingDuration: metrics.processingDuration.labels({ transport }),
        inFlight: metrics.inFlight.labels({ transport }),
      };
      cache.set(transport, series);
    }
    return series;
  };
}
