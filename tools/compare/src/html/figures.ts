import { formatBytes } from "../report.ts";
import { barChart } from "./bar-chart.ts";
import { seriesColour } from "./colours.ts";
import type { PayloadGroup } from "./report-data.ts";

/** msgs/s per transport at one payload size, a bar each in the transport's colour. */
export function throughputChart(group: PayloadGroup): string {
  return barChart({
    kind: "throughput",
    title: `Throughput, ${formatBytes(group.payloadBytes)}`,
    unit: "msgs/s",
    groups: ["successful sends per second"],
    series: group.phases.map((phase) => ({
      name: phase.row.transport,
      label: phase.row.transport,
      colour: seriesColour(phase.row.transport),
      values: [phase.row.throughput],
    })),
  });
}

/**
 * CPU per 1,000 messages on each side, per transport: producer, handler (all replicas)
 * and, for AMQP, the broker; in the dashboard's colours for the three.
 */
export function cpuChart(group: PayloadGroup): string {
  const rows = group.phases.map((phase) => phase.row);
  const amqpOnly = rows.every((row) => row.transport !== "amqp");
  return barChart({
    kind: "cpu",
    title: `CPU ms per 1,000 messages, ${formatBytes(group.payloadBytes)}`,
    unit: "CPU ms / 1k",
    groups: rows.map((row) => row.transport),
    series: [
      { name: "producer", label: "producer", colour: seriesColour("producer"), values: rows.map((row) => row.producerCpuMsPer1k) },
      { name: "handler", label: "handler", colour: seriesColour("handler"), values: rows.map((row) => row.handlerCpuMsPer1k) },
      // The broker works only for AMQP: RPC phases get no bar rather than a zero.
      ...(amqpOnly ? [] : [{ name: "rabbitmq", label: "broker", colour: seriesColour("rabbitmq"), values: rows.map((row) => (row.transport === "amqp" ? row.brokerCpuMsPer1k : undefined)) }]),
    ],
  });
}

/**
 * The producer's latency (round trip, or publish → confirm for AMQP) next to the
 * handler's one-way latency (handled_at − sent_at), p50 and p99, per transport.
 */
export function latencyChart(group: PayloadGroup): string {
  const rows = group.phases.map((phase) => phase.row);
  const producer = seriesColour("producer");
  const handler = seriesColour("handler");
  return barChart({
    kind: "latency",
    title: `Producer round trip and handler one-way latency, ${formatBytes(group.payloadBytes)}`,
    unit: "ms",
    groups: rows.map((row) => row.transport),
    series: [
      { name: "producer-p50", label: "round trip p50", colour: producer, opacity: 0.55, values: rows.map((row) => row.p50Ms) },
      { name: "producer-p99", label: "round trip p99", colour: producer, values: rows.map((row) => row.p99Ms) },
      { name: "handler-p50", label: "one-way p50", colour: handler, opacity: 0.55, values: rows.map((row) => row.handlerP50Ms) },
      { name: "handler-p99", label: "one-way p99", colour: handler, values: rows.map((row) => row.handlerP99Ms) },
    ],
  });
}
