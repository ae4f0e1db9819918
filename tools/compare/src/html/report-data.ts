import type { Row } from "../report.ts";

/** One point of a latency percentile distribution, as report.json holds it. */
export interface PercentilePoint {
  /** 0 to 100, e.g. 99.9. */
  percentile: number;
  valueMs: number;
}

/**
 * report.json as written by `compare` (see `jsonReport`): the run's context, one row per
 * phase, and the run itself in protobuf JSON. Only the parts the HTML report reads are
 * typed; everything else passes through untouched.
 */
export interface ReportData {
  command: string;
  startedAt: string;
  target: string;
  machine: string;
  node: string;
  /** The broker's product and version, e.g. `RabbitMQ 3.10.8`, when it could be asked. */
  rabbitmq?: string;
  rows: Row[];
  run: {
    id?: string;
    state?: string;
    spec?: {
      transports?: string[];
      payloadBytes?: number[];
      concurrency?: number;
      rate?: number;
      duration?: string;
      messages?: string;
      warmup?: string;
      sendTimeout?: string;
    };
    phases?: Array<{ latency?: { count?: string; distribution?: PercentilePoint[] } }>;
    notes?: string[];
  };
}

/** A phase as the HTML report draws it: its row and its latency distribution. */
export interface PhaseView {
  row: Row;
  /**
   * p50 … p99.99 from the run's histogram; for a report written before the
   * distribution was recorded, the row's p50, p90, p99 and p99.9 instead.
   */
  distribution: PercentilePoint[];
  /** Successful sends measured: the distribution's sample count. */
  samples: number;
}

/** A payload size and the phases that sent it, in the run's transport order. */
export interface PayloadGroup {
  payloadBytes: number;
  phases: PhaseView[];
}

/** Phases with figures (done or stopped), grouped by payload size in the order they ran. */
export function payloadGroups(report: ReportData): PayloadGroup[] {
  const groups = new Map<number, PhaseView[]>();
  report.rows.forEach((row, index) => {
    if (row.state !== "done" && row.state !== "stopped") return;
    const latency = report.run.phases?.[index]?.latency;
    const recorded = latency?.distribution ?? [];
    const distribution = recorded.length > 0
      ? recorded
      : [
          { percentile: 50, valueMs: row.p50Ms },
          { percentile: 90, valueMs: row.p90Ms },
          { percentile: 99, valueMs: row.p99Ms },
          { percentile: 99.9, valueMs: row.p999Ms },
        ];
    const phases = groups.get(row.payloadBytes) ?? [];
    phases.push({ row, distribution, samples: Number(latency?.count ?? row.outcomes.ok ?? 0) });
    groups.set(row.payloadBytes, phases);
  });
  return [...groups].map(([payloadBytes, phases]) => ({ payloadBytes, phases }));
}

/** Reads and checks the shape of a report.json text. */
export function parseReport(text: string): ReportData {
  const data = JSON.parse(text) as Partial<ReportData>;
  if (!Array.isArray(data.rows) || typeof data.run !== "object" || data.run === null) {
    throw new Error("not a compare report.json: it has no rows and run");
  }
  return data as ReportData;
}
