import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { ProducerService, RunState, RunSpecSchema, type Run, type RunSpec } from "@switchyard/contracts";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scaleLinear } from "d3-scale";
import { line } from "d3-shape";
import { seriesColour } from "./html/colours.ts";
import { esc, FRAME, legend, short, svg, xLabels, yGrid } from "./html/svg.ts";
import { writeHtmlReport } from "./html/write.ts";
import { formatBytes, jsonReport, markdownReport, toRow, type ReportContext, type Row } from "./report.ts";

/** `500..5000` with `steps` 5 → 500, 1625, 2750, 3875, 5000 (rounded to whole msg/s). */
export function rateSteps(from: number, to: number, steps: number): number[] {
  if (steps === 1) return [from];
  return Array.from({ length: steps }, (_, i) => Math.round(from + ((to - from) * i) / (steps - 1)));
}

/** One transport and payload at one offered rate. */
export interface StepPoint {
  rate: number;
  row: Row;
}

/** A transport's knee at one payload size: the highest offered rate whose p99 stayed under the bound. */
export interface Knee {
  transport: string;
  payloadBytes: number;
  /** Undefined when even the lowest rate's p99 passed the bound. */
  kneeRate: number | undefined;
  /** Every step at or below the knee kept p99 under the bound, and so did the highest: the knee lies above the range. */
  aboveRange: boolean;
  points: StepPoint[];
}

/**
 * Each transport's knee from stepped runs: climbing the rates in order, the last rate
 * at which the phase's p99 was under `boundMs`, delivered at least 95 % of the offered
 * rate and left nothing unsent. The first rate that fails ends the climb, so a lucky
 * higher step cannot lift the knee past a failed one.
 */
export function knees(steps: ReadonlyArray<{ rate: number; rows: Row[] }>, boundMs: number): Knee[] {
  const series = new Map<string, Knee>();
  for (const step of [...steps].sort((a, b) => a.rate - b.rate)) {
    for (const row of step.rows) {
      const key = `${row.transport} ${row.payloadBytes}`;
      const knee = series.get(key) ?? { transport: row.transport, payloadBytes: row.payloadBytes, kneeRate: undefined, aboveRange: false, points: [] };
      series.set(key, knee);
      const failedBefore = knee.points.some((point) => !holds(point, boundMs));
      knee.points.push({ rate: step.rate, row });
      if (!failedBefore && holds({ rate: step.rate, row }, boundMs)) knee.kneeRate = step.rate;
    }
  }
  const highest = Math.max(...steps.map((step) => step.rate));
  return [...series.values()].map((knee) => ({ ...knee, aboveRange: knee.kneeRate === highest }));
}

function holds(point: StepPoint, boundMs: number): boolean {
  const { row } = point;
  return (row.state === "done" || row.state === "stopped") && row.p99Ms <= boundMs && row.throughput >= 0.95 * point.rate && row.notSent === 0;
}

/** The knees as text lines, e.g. `grpc 64 B: 2,750 msg/s (p99 41.2 ms)`. */
export function kneeText(found: readonly Knee[], boundMs: number): string[] {
  return [
    `knee (highest offered rate with p99 under ${short(boundMs)} ms, ≥ 95 % delivered, nothing unsent):`,
    ...found.map((knee) => {
      const at = knee.points.find((point) => point.rate === knee.kneeRate);
      const steps = knee.points.map((point) => `${short(point.rate)}→p99 ${short(point.row.p99Ms)}`).join(", ");
      const value = knee.kneeRate === undefined ? "none: the lowest rate already failed" : `${knee.aboveRange ? "≥ " : ""}${knee.kneeRate.toLocaleString("en-US")} msg/s (p99 ${short(at!.row.p99Ms)} ms)`;
      return `  ${knee.transport} ${formatBytes(knee.payloadBytes)}: ${value}   [${steps}]`;
    }),
  ];
}

/** p99 against offered rate per transport at one payload size, with the bound and each knee marked. */
export function kneePlot(found: readonly Knee[], payloadBytes: number, boundMs: number): string {
  const frame = FRAME;
  const series = found.filter((knee) => knee.payloadBytes === payloadBytes);
  const rates = series.flatMap((knee) => knee.points.map((point) => point.rate));
  const x = scaleLinear().domain([Math.min(...rates), Math.max(...rates)]).range([frame.left, frame.width - frame.right]);
  const p99s = series.flatMap((knee) => knee.points.map((point) => point.row.p99Ms));
  const y = scaleLinear().domain([0, Math.max(...p99s, boundMs * 1.2)]).nice(5).range([frame.height - frame.bottom, frame.top]);
  const path = line<StepPoint>().x((point) => x(point.rate)).y((point) => y(point.row.p99Ms));
  const lines = series.map((knee) => {
    const colour = seriesColour(knee.transport);
    const marker = knee.kneeRate === undefined ? "" : `<circle class="knee" data-series="${esc(knee.transport)}" cx="${x(knee.kneeRate).toFixed(1)}" cy="${y(knee.points.find((point) => point.rate === knee.kneeRate)!.row.p99Ms).toFixed(1)}" r="6" fill="none" stroke="${colour}" stroke-width="2"><title>${esc(`${knee.transport} knee: ${knee.kneeRate} msg/s`)}</title></circle>`;
    return `<path class="series" data-series="${esc(knee.transport)}" d="${path(knee.points) ?? ""}" fill="none" stroke="${colour}" stroke-width="2"/>${marker}`;
  });
  const bound = `<line class="bound" x1="${frame.left}" x2="${frame.width - frame.right}" y1="${y(boundMs).toFixed(1)}" y2="${y(boundMs).toFixed(1)}" stroke="#F2495C" stroke-dasharray="6 4"/>`;
  return svg(
    "knee",
    `p99 by offered rate, ${formatBytes(payloadBytes)} (bound ${short(boundMs)} ms, knees circled)`,
    frame,
    [
      yGrid(y.ticks(5), y, short, frame, "p99 ms"),
      xLabels([...new Set(rates)].map((rate) => ({ x: x(rate), text: short(rate) })), frame, "offered msg/s"),
      bound,
      ...lines,
      legend(series.map((knee) => ({ name: knee.transport, label: knee.transport, colour: seriesColour(knee.transport) })), frame),
    ].join(""),
  );
}

/** What a stepped-rate comparison needs from compare. */
export interface SteppedOptions {
  client: Client<typeof ProducerService>;
  spec: RunSpec;
  rates: number[];
  kneeP99Ms: number;
  outDir: string;
  context: () => Promise<ReportContext>;
  say: (line: string) => void;
}

/**
 * Runs the comparison once per offered rate, one run after another, each written as its
 * own report in `step-<n>-<rate>/`, then finds each transport's knee and writes
 * `steps.json` and `steps.html` in `outDir`. Returns compare's exit status: 0 when every
 * step succeeded and nothing was lost.
 */
export async function runSteps(options: SteppedOptions): Promise<{ code: number; lines: string[] }> {
  const steps: Array<{ rate: number; rows: Row[] }> = [];
  let failed = false;
  for (const [index, rate] of options.rates.entries()) {
    const spec = create(RunSpecSchema, { ...options.spec, load: { case: "rate", value: rate } });
    let run: Run | undefined = (await options.client.startRun({ spec }, { timeoutMs: 10_000 })).run;
    if (!run) throw new Error("StartRun returned no run");
    for await (const update of options.client.watchRun({ id: run.id })) if (update.run) run = update.run;
    const rows = run.phases.map(toRow);
    options.say(`step ${index + 1}/${options.rates.length} at ${rate.toLocaleString("en-US")} msg/s: ${rows.map((row) => `${row.transport} ${formatBytes(row.payloadBytes)} p99 ${short(row.p99Ms)} ms`).join(", ")}`);
    const dir = join(options.outDir, `step-${index + 1}-${rate}`);
    mkdirSync(dir, { recursive: true });
    const context = await options.context();
    writeFileSync(join(dir, "report.json"), jsonReport(run, context));
    writeFileSync(join(dir, "report.md"), markdownReport(run, context));
    writeHtmlReport(dir);
    steps.push({ rate, rows });
    if (run.state !== RunState.SUCCEEDED || rows.some((row) => (row.lost ?? 0) > 0 || row.lost === undefined)) failed = true;
  }
  const found = knees(steps, options.kneeP99Ms);
  writeFileSync(join(options.outDir, "steps.json"), `${JSON.stringify({ kneeP99Ms: options.kneeP99Ms, rates: options.rates, knees: found.map(({ points, ...knee }) => ({ ...knee, p99Ms: points.map((point) => point.row.p99Ms), throughput: points.map((point) => point.row.throughput) })) }, null, 2)}\n`);
  writeFileSync(join(options.outDir, "steps.html"), stepsPage(found, options.kneeP99Ms, await options.context()));
  return { code: failed ? 1 : 0, lines: kneeText(found, options.kneeP99Ms) };
}

function stepsPage(found: readonly Knee[], boundMs: number, context: ReportContext): string {
  const payloads = [...new Set(found.map((knee) => knee.payloadBytes))];
  const rows = found.map((knee) => `<tr data-series="${esc(knee.transport)}"><td>${esc(knee.transport)}</td><td>${esc(formatBytes(knee.payloadBytes))}</td><td class="num knee-rate">${knee.kneeRate === undefined ? "none" : `${knee.aboveRange ? "≥ " : ""}${knee.kneeRate.toLocaleString("en-US")}`}</td>${knee.points.map((point) => `<td class="num">${short(point.row.p99Ms)}</td>`).join("")}</tr>`);
  const rates = found[0]?.points.map((point) => point.rate) ?? [];
  return [
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>switchyard stepped rate ${esc(context.startedAt.toISOString())}</title>`,
    `<style>body{background:#111217;color:#ccccdc;font:14px system-ui,sans-serif;max-width:1180px;margin:0 auto;padding:20px}h1,h2{color:#fff}.plots{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:12px}.plot{margin:0;background:#181b1f;border:1px solid #2c3235;padding:8px}.chart{width:100%;height:auto;font-size:12px}.chart text{fill:#ccccdc}.chart .tick,.chart .axis-title{fill:#8e8e9e}.chart .grid{stroke:#2c3235}.chart .axis{stroke:#5a5f66}table{border-collapse:collapse}td,th{padding:4px 8px;border-bottom:1px solid #2c3235;text-align:left}td.num{text-align:right}</style></head><body>`,
    `<h1>switchyard: stepped rate</h1><p>${esc(context.command)} · ${esc(context.machine)} · Node ${esc(context.node)}${context.rabbitmq ? ` · ${esc(context.rabbitmq)}` : ""}</p>`,
    `<p>Open loop at each offered rate in turn; the knee is the highest rate whose p99 stayed under ${esc(short(boundMs))} ms with at least 95 % delivered and nothing unsent. Each step's full report is in its step-&lt;n&gt;-&lt;rate&gt; folder.</p>`,
    `<h2>Knees</h2><table><thead><tr><th>transport</th><th>payload</th><th>knee msg/s</th>${rates.map((rate) => `<th>p99 ms at ${esc(short(rate))}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`,
    `<div class="plots">${payloads.map((payload) => kneePlot(found, payload, boundMs)).join("")}</div>`,
    `</body></html>`,
    "",
  ].join("\n");
}
