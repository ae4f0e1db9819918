import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { HandlerService } from "@switchyard/contracts";
import { LATENCY_BUCKETS_SECONDS } from "@switchyard/platform";
import { Agent } from "node:http";
import type { Received } from "./ledger.ts";
import type { CompareTransport } from "./senders/sender.ts";

/** One sample of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format into samples; comments are skipped. */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The handler's figures for one transport at one moment, read from its /metrics. */
export interface HandlerSnapshot {
  /** process_cpu_seconds_total. */
  cpuSeconds: number;
  /** Messages handled on the transport (outcomes ok and duplicate). */
  handled: number;
  /** Cumulative delivery-latency bucket counts, by upper bound in seconds (Infinity last). */
  buckets: Map<number, number>;
  /** Sum and count of the delivery-latency histogram. */
  latencySum: number;
  latencyCount: number;
}

/** Picks one transport's figures out of the handler's samples. */
export function handlerSnapshot(samples: readonly Sample[], transport: CompareTransport): HandlerSnapshot {
  const snapshot: HandlerSnapshot = { cpuSeconds: NaN, handled: 0, buckets: new Map(), latencySum: 0, latencyCount: 0 };
  for (const { name, labels, value } of samples) {
    if (name === "process_cpu_seconds_total") snapshot.cpuSeconds = value;
    if (labels.transport !== transport) continue;
    if (name === "switchyard_handler_messages_total" && (labels.outcome === "ok" || labels.outcome === "duplicate")) {
      snapshot.handled += value;
    } else if (name === "switchyard_handler_delivery_latency_seconds_bucket") {
      snapshot.buckets.set(labels.le === "+Inf" ? Infinity : Number(labels.le), value);
    } else if (name === "switchyard_handler_delivery_latency_seconds_sum") {
      snapshot.latencySum = value;
    } else if (name === "switchyard_handler_delivery_latency_seconds_count") {
      snapshot.latencyCount = value;
    }
  }
  return snapshot;
}

/** What changed on the handler between two snapshots; mirrors HandlerLatency and the CPU figure. */
export interface HandlerDelta {
  handled: number;
  cpuMs: number;
  latency: { count: number; meanMs: number; p50Ms: number; p99Ms: number } | undefined;
}

/** The difference between two snapshots of the same transport. */
export function handlerDelta(before: HandlerSnapshot, after: HandlerSnapshot): HandlerDelta {
  const count = after.latencyCount - before.latencyCount;
  const bounds = [...after.buckets.keys()].sort((a, b) => a - b);
  const cumulative = bounds.map((bound) => (after.buckets.get(bound) ?? 0) - (before.buckets.get(bound) ?? 0));
  return {
    handled: after.handled - before.handled,
    cpuMs: (after.cpuSeconds - before.cpuSeconds) * 1000,
    latency: count > 0
      ? {
          count,
          meanMs: ((after.latencySum - before.latencySum) / count) * 1000,
          p50Ms: bucketQuantile(0.5, bounds, cumulative) * 1000,
          p99Ms: bucketQuantile(0.99, bounds, cumulative) * 1000,
        }
      : undefined,
  };
}

/**
 * Estimates a quantile from cumulative bucket counts by linear interpolation inside the
 * bucket it falls in, as PromQL's histogram_quantile does; one falling in the +Inf
 * bucket reports the highest finite bound.
 */
export function bucketQuantile(q: number, bounds: readonly number[], cumulative: readonly number[]): number {
  const total = cumulative.at(-1) ?? 0;
  if (total <= 0) return 0;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (cumulative[i]! >= rank) {
      const upper = bounds[i]!;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      if (upper === Infinity) return lower;
      const below = i === 0 ? 0 : cumulative[i - 1]!;
      const inBucket = cumulative[i]! - below;
      return inBucket > 0 ? lower + ((upper - lower) * (rank - below)) / inBucket : upper;
    }
  }
  return LATENCY_BUCKETS_SECONDS.at(-1)!;
}

/** What a phase asks of the handler besides its transports; {@link HandlerProbe} in production. */
export interface HandlerObserver {
  snapshot(transport: CompareTransport): Promise<HandlerSnapshot | undefined>;
  received(producerId: string): Promise<Received | undefined>;
}

/**
 * The producer's view of the handler outside the transports under test: its /metrics
 * (CPU, handled counts, one-way latency) and HandlerService.GetReceived (the ledger).
 * Uses its own connection so these calls never count as sent messages.
 */
export class HandlerProbe implements HandlerObserver {
  readonly #metricsUrl: string;
  readonly #client: Client<typeof HandlerService>;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 4 });
  readonly #timeoutMs: number;

  constructor(handlerHttpUrl: string, timeoutMs = 3_000) {
    this.#metricsUrl = new URL("/metrics", handlerHttpUrl).href;
    this.#timeoutMs = timeoutMs;
    this.#client = createClient(
      HandlerService,
      createConnectTransport({ baseUrl: handlerHttpUrl, httpVersion: "1.1", useBinaryFormat: true, nodeOptions: { agent: this.#agent } }),
    );
  }

  /** The handler's figures for `transport`, or undefined when its /metrics cannot be read. */
  async snapshot(transport: CompareTransport): Promise<HandlerSnapshot | undefined> {
    try {
      const response = await fetch(this.#metricsUrl, { signal: AbortSignal.timeout(this.#timeoutMs) });
      if (!response.ok) return undefined;
      const snapshot = handlerSnapshot(parsePrometheusText(await response.text()), transport);
      return Number.isFinite(snapshot.cpuSeconds) ? snapshot : undefined;
    } catch {
      return undefined;
    }
  }

  /** What the handler received of `producerId`, or undefined when it cannot be asked. */
  async received(producerId: string): Promise<Received | undefined> {
    try {
      const answer = await this.#client.getReceived({ producerId }, { timeoutMs: this.#timeoutMs });
      return {
        tracked: answer.tracked,
        handled: Number(answer.handled),
        duplicates: Number(answer.duplicates),
        ranges: answer.ranges.map(({ first, last }) => ({ first: Number(first), last: Number(last) })),
      };
    } catch {
      return undefined;
    }
  }

  /** Closes the probe's connections. */
  close(): void {
    this.#agent.destroy();
  }
}
