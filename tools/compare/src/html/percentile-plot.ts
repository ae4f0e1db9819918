import { scaleLinear, scaleLog } from "d3-scale";
import { line } from "d3-shape";
import { formatBytes } from "../report.ts";
import { seriesColour } from "./colours.ts";
import type { PayloadGroup } from "./report-data.ts";
import { esc, FRAME, legend, short, svg, xLabels, yGrid } from "./svg.ts";

/** Where the x axis is labelled: 1/(1 − p) for p50, p90, p99, p99.9 and p99.99. */
const X_TICKS = [
  { odds: 2, label: "p50" },
  { odds: 10, label: "p90" },
  { odds: 100, label: "p99" },
  { odds: 1_000, label: "p99.9" },
  { odds: 10_000, label: "p99.99" },
];

/** 1/(1 − p) for a percentile p in 0…100: 2 at p50, 100 at p99, 10,000 at p99.99. */
export function odds(percentile: number): number {
  return 100 / (100 - percentile);
}

/**
 * One payload size's latency percentile distribution, a line per transport: x is
 * 1/(1 − p) on a log scale from p50 to p99.99 (as HdrHistogram plots draw the tail), y
 * the producer's latency in ms. Points beyond a phase's sample count repeat its maximum.
 */
export function percentilePlot(group: PayloadGroup): string {
  const frame = FRAME;
  const x = scaleLog().domain([2, 10_000]).range([frame.left, frame.width - frame.right]).clamp(true);
  const top = Math.max(...group.phases.flatMap((phase) => phase.distribution.map((point) => point.valueMs)), 0.001);
  const y = scaleLinear().domain([0, top]).nice(5).range([frame.height - frame.bottom, frame.top]);
  const path = line<{ percentile: number; valueMs: number }>()
    .x((point) => x(odds(point.percentile)))
    .y((point) => y(point.valueMs));
  const series = group.phases.map((phase) => {
    const name = phase.row.transport;
    const colour = seriesColour(name);
    const dots = phase.distribution
      .map((point) => `<circle cx="${x(odds(point.percentile)).toFixed(1)}" cy="${y(point.valueMs).toFixed(1)}" r="2.5" fill="${colour}"><title>${esc(`${name} p${point.percentile}: ${short(point.valueMs)} ms`)}</title></circle>`)
      .join("");
    return `<g class="series-group" data-series="${esc(name)}"><path class="series" data-series="${esc(name)}" d="${path(phase.distribution) ?? ""}" fill="none" stroke="${colour}" stroke-width="2"><title>${esc(`${name}: ${phase.samples.toLocaleString("en-US")} sends`)}</title></path>${dots}</g>`;
  });
  const title = `Latency by percentile, ${formatBytes(group.payloadBytes)}`;
  return svg(
    "percentiles",
    title,
    frame,
    [
      yGrid(y.ticks(5), y, short, frame, "ms"),
      ...X_TICKS.map((tick) => `<line class="grid" x1="${x(tick.odds).toFixed(1)}" x2="${x(tick.odds).toFixed(1)}" y1="${frame.top}" y2="${frame.height - frame.bottom}"/>`),
      xLabels(X_TICKS.map((tick) => ({ x: x(tick.odds), text: tick.label })), frame, ""),
      ...series,
      legend(group.phases.map((phase) => ({ name: phase.row.transport, label: phase.row.transport, colour: seriesColour(phase.row.transport) })), frame),
    ].join(""),
  );
}
