import { NOISE_MULTIPLE, type BaselineComparison } from "../baseline.ts";
import { formatBytes } from "../report.ts";
import { barChart } from "./bar-chart.ts";
import { seriesColour } from "./colours.ts";
import { esc } from "./svg.ts";

/** The figures plotted against the baseline (all of them are in the table below the plots). */
const PLOTTED = ["msgs/s", "p50", "p99", "CPU producer", "CPU handler"];

/**
 * The comparison with a baseline run: per payload size, each plotted figure's relative
 * change per transport, changes beyond the noise in full colour and marked `!`, the
 * others faint; then a table of every figure with its noise.
 */
export function baselineSection(comparison: BaselineComparison): string {
  const payloads = [...new Set(comparison.phases.map((phase) => phase.payloadBytes))];
  const plots = payloads.map((payloadBytes) => {
    const phases = comparison.phases.filter((phase) => phase.payloadBytes === payloadBytes);
    return barChart({
      kind: "baseline",
      title: `Change against the baseline, ${formatBytes(payloadBytes)}`,
      unit: "% change",
      groups: PLOTTED,
      format: (value) => `${value >= 0 ? "+" : ""}${Math.round(value)}%`,
      series: phases.map((phase) => {
        const figures = PLOTTED.map((name) => phase.figures.find((figure) => figure.figure === name));
        return {
          name: phase.transport,
          label: phase.transport,
          colour: seriesColour(phase.transport),
          values: figures.map((figure) => (figure?.change === undefined ? undefined : figure.change * 100)),
          flagged: figures.map((figure) => figure?.flagged ?? false),
        };
      }),
    });
  });
  const flagged = comparison.phases.flatMap((phase) => phase.figures.filter((figure) => figure.flagged).map((figure) => ({ phase, figure })));
  const rows = comparison.phases.flatMap((phase) =>
    phase.figures
      .filter((figure) => figure.before !== undefined || figure.after !== undefined)
      .map(
        (figure) =>
          `<tr class="${figure.flagged ? "flagged" : ""}"><td>${figure.flagged ? "!" : ""}</td><td>${esc(phase.transport)}</td><td>${esc(formatBytes(phase.payloadBytes))}</td><td>${esc(figure.figure)}</td><td class="num">${number(figure.before)}</td><td class="num">${number(figure.after)}</td><td class="num">${figure.change === undefined ? "–" : `${figure.change >= 0 ? "+" : ""}${(figure.change * 100).toFixed(1)}%`}</td><td class="num">${figure.factor === undefined ? "not measured" : `×÷${figure.factor.toFixed(2)}`}</td></tr>`,
      ),
  );
  const summary = flagged.length > 0
    ? `${flagged.length} ${flagged.length === 1 ? "change" : "changes"} beyond the noise: ${flagged.map(({ phase, figure }) => `${phase.transport} ${formatBytes(phase.payloadBytes)} ${figure.figure}`).join(", ")}`
    : comparison.phases.some((phase) => phase.figures.some((figure) => figure.change !== undefined && figure.noise === undefined))
      ? "No change beyond the noise where it was measured; phases too short to measure it are not judged"
      : "No change beyond the noise";
  return [
    `<section class="baseline" data-flagged="${flagged.length}"><h2>Against the baseline</h2>`,
    `<p>Baseline: ${esc(comparison.baselineDir)}, started ${esc(comparison.baselineStartedAt)} (<code>${esc(comparison.baselineCommand)}</code>). A ratio after / before is flagged beyond e^(${NOISE_MULTIPLE}σ) either way, σ being the noise measured in the two runs on a log scale: each phase's throughput spread across its own sub-windows, plus a percentile's sampling uncertainty (half a histogram bucket for the handler's one-way estimates).</p>`,
    `<p class="banner ${flagged.length > 0 ? "unknown" : "pass"}">${esc(summary)}</p>`,
    `<div class="plots">${plots.join("")}</div>`,
    comparison.unmatched.length > 0 ? `<p>Not in the baseline: ${esc(comparison.unmatched.join(", "))}</p>` : "",
    `<table><thead><tr><th></th><th>transport</th><th>payload</th><th>figure</th><th>before</th><th>after</th><th>change</th><th>flagged past</th></tr></thead><tbody>${rows.join("")}</tbody></table>`,
    `</section>`,
  ].join("");
}

function number(value: number | undefined): string {
  return value === undefined ? "–" : Number(value.toPrecision(3)).toLocaleString("en-US");
}
