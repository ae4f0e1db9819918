import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { PhaseNoise } from "./baseline-noise.ts";
import { formatBytes } from "./report.ts";
import type { Row } from "./report.ts";
import { parseReport, payloadGroups, type PercentilePoint, type ReportData } from "./html/report-data.ts";

/** A change is flagged when it passes this many times the noise of the two runs together. */
export const NOISE_MULTIPLE = 2;

/**
 * Noise is on a log scale (ln of a ratio), so halving and doubling weigh the same and a
 * figure that falls by 97 % can pass a threshold as easily as one that grows 33-fold.
 * bytes/msg moves only with the payload's encoding: any change past 1 % is real.
 */
const BYTES_NOISE = Math.log(1.01);

/**
 * The handler's one-way percentiles are interpolated within histogram buckets 2 to 2.5×
 * apart, so an estimate can move by half a bucket with no real change.
 */
const BUCKET_NOISE = Math.log(2.5) / 2;

/** A results folder's report and, when compare measured it, its noise. */
export interface RunRecord {
  dir: string;
  report: ReportData;
  noise: PhaseNoise[] | undefined;
}

/**
 * Reads a results folder (or its report.json) written by compare, with noise.json when
 * it has one.
 *
 * @throws Error naming the folder when it holds no report.json.
 */
export function readRun(path: string): RunRecord {
  const dir = path.endsWith(".json") ? join(path, "..") : path;
  const reportPath = join(dir, "report.json");
  if (!existsSync(reportPath)) throw new Error(`${path} holds no report.json from compare`);
  const noisePath = join(dir, "noise.json");
  const noise = existsSync(noisePath) ? (JSON.parse(readFileSync(noisePath, "utf8")) as { phases: PhaseNoise[] }).phases : undefined;
  return { dir, report: parseReport(readFileSync(reportPath, "utf8")), noise };
}

/** One figure of one phase, before and after. */
export interface FigureChange {
  figure: string;
  unit: string;
  before: number | undefined;
  after: number | undefined;
  /** (after − before) / before; undefined when either is missing or not positive. */
  change: number | undefined;
  /** The two runs' noise for this figure, as a standard deviation of ln(after / before); undefined when it was not measured. */
  noise: number | undefined;
  /**
   * The factor the noise allows: after / before beyond ×factor or ÷factor is flagged
   * (e^({@link NOISE_MULTIPLE} × noise)).
   */
  factor: number | undefined;
  /** after / before lies beyond ×factor or ÷factor. */
  flagged: boolean;
}

/** One phase (transport and payload) present in both runs. */
export interface PhaseChange {
  transport: string;
  payloadBytes: number;
  figures: FigureChange[];
}

/** The current run against a baseline, phase by phase. */
export interface BaselineComparison {
  baselineDir: string;
  baselineStartedAt: string;
  baselineCommand: string;
  phases: PhaseChange[];
  /** Phases of the current run the baseline does not have, e.g. `grpc 1 KiB`. */
  unmatched: string[];
}

/** The figures compared, how to read each from a row, and which noise applies. */
const FIGURES: Array<{ figure: string; unit: string; read: (row: Row) => number | undefined; percentile?: number; kind: "system" | "latency" | "one-way" | "bytes" }> = [
  { figure: "msgs/s", unit: "msgs/s", read: (row) => row.throughput, kind: "system" },
  { figure: "p50", unit: "ms", read: (row) => row.p50Ms, percentile: 50, kind: "latency" },
  { figure: "p99", unit: "ms", read: (row) => row.p99Ms, percentile: 99, kind: "latency" },
  { figure: "p99.9", unit: "ms", read: (row) => row.p999Ms, percentile: 99.9, kind: "latency" },
  { figure: "one-way p50", unit: "ms", read: (row) => row.handlerP50Ms, kind: "one-way" },
  { figure: "one-way p99", unit: "ms", read: (row) => row.handlerP99Ms, kind: "one-way" },
  { figure: "CPU producer", unit: "ms/1k", read: (row) => row.producerCpuMsPer1k, kind: "system" },
  { figure: "CPU handler", unit: "ms/1k", read: (row) => row.handlerCpuMsPer1k, kind: "system" },
  { figure: "CPU broker", unit: "ms/1k", read: (row) => row.brokerCpuMsPer1k, kind: "system" },
  { figure: "bytes/msg", unit: "B", read: (row) => row.bytesPerMessage, kind: "bytes" },
];

/**
 * Compares every phase the two runs share, figure by figure, as the ratio after / before.
 * The noise a ratio is judged against is a spread of its logarithm that combines, for
 * both runs (as √(a² + b²)):
 * - the phase's own throughput spread across its sub-windows (see NoiseSampler): how
 *   much the machine moved the figures while the phase ran; it applies to every figure
 *   but bytes/msg (a closed loop's latency and CPU per message move with its rate);
 * - for the producer's percentiles, their sampling uncertainty: the 95 % interval of the
 *   p-th order statistic of n sends, ±1.96·√(p(1 − p)/n), read off the distribution;
 * - for the handler's one-way estimates, half a histogram bucket.
 * A run without noise.json (written before it existed) counts its spread as the other
 * run's; with neither, changes are shown but never flagged.
 */
export function compareRuns(current: RunRecord, baseline: RunRecord): BaselineComparison {
  const before = new Map(phaseViews(baseline).map((view) => [`${view.row.transport} ${view.row.payloadBytes}`, view]));
  const phases: PhaseChange[] = [];
  const unmatched: string[] = [];
  for (const view of phaseViews(current)) {
    const old = before.get(`${view.row.transport} ${view.row.payloadBytes}`);
    if (!old) {
      unmatched.push(`${view.row.transport} ${formatBytes(view.row.payloadBytes)}`);
      continue;
    }
    const spread = combine(view.spread ?? old.spread, old.spread ?? view.spread);
    const figures = FIGURES.map(({ figure, unit, read, percentile, kind }) => {
      const after = read(view.row);
      const was = read(old.row);
      const change = after !== undefined && was !== undefined && was > 0 && after > 0 ? after / was - 1 : undefined;
      let noise: number | undefined;
      if (kind === "bytes") noise = BYTES_NOISE;
      else if (spread !== undefined) {
        if (kind === "latency") noise = combine(spread, combine(sampling(view.distribution, view.samples, percentile!), sampling(old.distribution, old.samples, percentile!)));
        else if (kind === "one-way") noise = combine(spread, BUCKET_NOISE);
        else noise = spread;
      }
      const factor = noise === undefined ? undefined : Math.exp(NOISE_MULTIPLE * noise);
      const flagged = change !== undefined && factor !== undefined && Math.abs(Math.log1p(change)) > Math.log(factor);
      return { figure, unit, before: was, after, change, noise, factor, flagged };
    });
    phases.push({ transport: view.row.transport, payloadBytes: view.row.payloadBytes, figures });
  }
  return { baselineDir: baseline.dir, baselineStartedAt: baseline.report.startedAt, baselineCommand: baseline.report.command, phases, unmatched };
}

/** A phase's row, distribution and sample count, with its throughput spread. */
function phaseViews(run: RunRecord) {
  return payloadGroups(run.report).flatMap((group) =>
    group.phases.map((phase) => ({
      ...phase,
      spread: logSpread(run.noise?.find((noise) => noise.transport === phase.row.transport && noise.payloadBytes === phase.row.payloadBytes)?.relativeSpread),
    })),
  );
}

/** A relative spread (standard deviation over mean) as a spread of ln: ln(1 + spread). */
function logSpread(spread: number | undefined): number | undefined {
  return spread === undefined ? undefined : Math.log1p(spread);
}

/** √(a² + b²), undefined only when both are. */
function combine(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined && b === undefined) return undefined;
  return Math.hypot(a ?? 0, b ?? 0);
}

/**
 * Half the 95 % interval of the p-th percentile of n samples, as ln of a ratio: the
 * percentiles at p ± 1.96·√(p(1 − p)/n), interpolated in the distribution.
 */
export function sampling(distribution: readonly PercentilePoint[], samples: number, percentile: number): number {
  if (samples <= 0 || distribution.length === 0) return 0;
  const p = percentile / 100;
  const half = 1.96 * Math.sqrt((p * (1 - p)) / samples) * 100;
  const low = valueAt(distribution, Math.max(percentile - half, 0));
  if (low <= 0) return 0;
  return Math.log(valueAt(distribution, Math.min(percentile + half, 99.99)) / low) / 2;
}

/** The latency at a percentile, interpolated linearly between the distribution's points (clamped at its ends). */
function valueAt(distribution: readonly PercentilePoint[], percentile: number): number {
  const points = [...distribution].sort((a, b) => a.percentile - b.percentile);
  if (percentile <= points[0]!.percentile) return points[0]!.valueMs;
  for (let i = 1; i < points.length; i++) {
    const [low, high] = [points[i - 1]!, points[i]!];
    if (percentile <= high.percentile) return low.valueMs + ((high.valueMs - low.valueMs) * (percentile - low.percentile)) / (high.percentile - low.percentile);
  }
  return points.at(-1)!.valueMs;
}

const percent = (value: number) => `${value >= 0 ? "+" : ""}${(value * 100).toFixed(value !== 0 && Math.abs(value) < 0.1 ? 1 : 0)}%`;
const figureValue = (value: number | undefined) => (value === undefined ? "–" : Number(value.toPrecision(3)).toLocaleString("en-US"));

/**
 * The comparison as text: every figure's change with the noise it was judged against,
 * flagged ones marked `!`, and a line naming how many were flagged.
 */
export function baselineText(comparison: BaselineComparison): string[] {
  const lines = [`against ${comparison.baselineDir} (${comparison.baselineStartedAt}, ${comparison.baselineCommand}):`];
  const header = ["", "transport", "payload", "figure", "before", "after", "change", "flagged past"];
  const table = [header];
  for (const phase of comparison.phases) {
    for (const figure of phase.figures) {
      if (figure.before === undefined && figure.after === undefined) continue;
      table.push([
        figure.flagged ? "!" : "",
        phase.transport,
        formatBytes(phase.payloadBytes),
        figure.figure,
        figureValue(figure.before),
        figureValue(figure.after),
        figure.change === undefined ? "–" : percent(figure.change),
        figure.factor === undefined ? "not measured" : `×÷${figure.factor.toFixed(2)}`,
      ]);
    }
  }
  const widths = header.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  lines.push(...table.map((row) => row.map((cell, column) => (column >= 4 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join("  ").trimEnd()));
  const flagged = comparison.phases.flatMap((phase) => phase.figures.filter((figure) => figure.flagged).map((figure) => `${phase.transport} ${formatBytes(phase.payloadBytes)} ${figure.figure} ${percent(figure.change!)}`));
  lines.push(flagged.length > 0 ? `${flagged.length} changes beyond the noise: ${flagged.join(", ")}` : "no change beyond the noise");
  const unmeasured = comparison.phases.filter((phase) => phase.figures.some((figure) => figure.change !== undefined && figure.noise === undefined));
  if (unmeasured.length > 0) {
    lines.push(`noise not measured for ${unmeasured.map((phase) => `${phase.transport} ${formatBytes(phase.payloadBytes)}`).join(", ")} (it needs 3 progress updates in a measured window: phases of 2 s or more), so their changes are not judged`);
  }
  if (comparison.unmatched.length > 0) lines.push(`not in the baseline: ${comparison.unmatched.join(", ")}`);
  return lines;
}
