import { LATENCY_BUCKETS_SECONDS, TRANSPORTS } from "@switchyard/platform";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The producer's Contract metrics, registered on the service's own registry. */
export interface ProducerMetrics {
  messages: Counter<"transport" | "outcome">;
  sendDuration: Histogram<"transport">;
  messageBytes: Counter<"transport">;
  inFlight: Gauge<"transport">;
}

/**
 * Registers the producer's metrics on `registry`, with the shared latency buckets. The
 * `ok` series of every transport starts at zero so `rate()` and dashboards see it from
 * the first scrape; error outcomes appear when they first happen.
 */
export function createProducerMetrics(registry: Registry): ProducerMetrics {
  const registers = [registry];
  const metrics: ProducerMetrics = {
    messages: new Counter({
      name: "switchyard_producer_messages_total",
      help: "Sends finished, by transport and outcome (ok, handling_failed or a snake_case error code).",
      labelNames: ["transport", "outcome"] as const,
      registers,
    }),
    sendDuration: new Histogram({
      name: "switchyard_producer_send_duration_seconds",
      help: "Round trip (RPC) or publish to confirm (AMQP) of one send.",
      labelNames: ["transport"] as const,
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    }),
    messageBytes: new Counter({
      name: "switchyard_producer_message_bytes_total",
      help: "Encoded body bytes sent.",
      labelNames: ["transport"] as const,
      registers,
    }),
    inFlight: new Gauge({
      name: "switchyard_producer_in_flight",
      help: "Sends started and not yet finished.",
      labelNames: ["transport"] as const,
      registers,
    }),
  };
  for (const transport of TRANSPORTS) {
    metrics.messages.inc({ transport, outcome: "ok" }, 0);
    metrics.sendDuration.zero({ transport });
    metrics.messageBytes.inc({ transport }, 0);
    metrics.inFlight.set({ transport }, 0);
  }
  return metrics;
}
