import { scaleBand, scaleLinear } from "d3-scale";
import { esc, FRAME, legend, short, svg, xLabels, yGrid } from "./svg.ts";

/** One series of a grouped bar chart: a value per group, `undefined` where unknown. */
export interface BarSeries {
  /** Identifies the series (data-series), e.g. `grpc` or `producer`. */
  name: string;
  label: string;
  colour: string;
  opacity?: number;
  values: Array<number | undefined>;
  /** Values to mark (class `flagged`, full colour); when given, the others are drawn faint. */
  flagged?: boolean[];
}

/** A grouped bar chart: one cluster per group, one bar per series within it. */
export interface BarChart {
  /** The plot's kind (data-plot), e.g. `throughput`. */
  kind: string;
  title: string;
  unit: string;
  groups: string[];
  series: BarSeries[];
  /** How a bar's value is written over it (default: three significant digits). */
  format?: (value: number) => string;
}

/**
 * Draws a grouped bar chart with a value over each bar; negative values hang below
 * zero. An unknown value gets a dash at the base instead of a bar, so a missing figure
 * never reads as zero.
 */
export function barChart(chart: BarChart): string {
  const frame = FRAME;
  const outer = scaleBand().domain(chart.groups).range([frame.left, frame.width - frame.right]).paddingInner(0.2).paddingOuter(0.1);
  const inner = scaleBand().domain(chart.series.map((series) => series.name)).range([0, outer.bandwidth()]).padding(0.08);
  const known = chart.series.flatMap((series) => series.values.filter((value): value is number => value !== undefined));
  const y = scaleLinear().domain([Math.min(...known, 0), Math.max(...known, 0.001)]).nice(5).range([frame.height - frame.bottom, frame.top]);
  const base = y(0);
  const format = chart.format ?? short;
  const bars = chart.series.map((series) => {
    const marks = chart.groups.map((group, index) => {
      const value = series.values[index];
      const left = (outer(group) ?? 0) + (inner(series.name) ?? 0);
      const middle = (left + inner.bandwidth() / 2).toFixed(1);
      if (value === undefined) {
        return `<text class="missing" x="${middle}" y="${(base - 4).toFixed(1)}" text-anchor="middle">–</text>`;
      }
      const height = Math.max(Math.abs(base - y(value)), 0.5);
      const top = value >= 0 ? base - height : base;
      const label = `${series.label}, ${group}: ${format(value)} ${chart.unit}`;
      const flagged = series.flagged?.[index];
      const opacity = flagged === false ? 0.3 : (series.opacity ?? 1);
      const text = value >= 0 ? top - 3 : top + height + 11;
      return `<rect class="bar${flagged ? " flagged" : ""}" data-series="${esc(series.name)}" data-group="${esc(group)}" x="${left.toFixed(1)}" y="${top.toFixed(1)}" width="${inner.bandwidth().toFixed(1)}" height="${height.toFixed(1)}" fill="${series.colour}" fill-opacity="${opacity}"><title>${esc(label)}</title></rect><text class="value" x="${middle}" y="${text.toFixed(1)}" text-anchor="middle">${esc(format(value))}${flagged ? " !" : ""}</text>`;
    });
    return `<g class="series" data-series="${esc(series.name)}">${marks.join("")}</g>`;
  });
  return svg(
    chart.kind,
    chart.title,
    frame,
    [
      yGrid(y.ticks(5), y, short, frame, chart.unit),
      xLabels(chart.groups.map((group) => ({ x: (outer(group) ?? 0) + outer.bandwidth() / 2, text: group })), frame, ""),
      ...bars,
      legend(chart.series.map((series) => ({ name: series.name, label: series.label, colour: series.colour, opacity: series.opacity })), frame),
    ].join(""),
  );
}
