import { pairsHtmlSection } from "../reference.ts";
import { formatBytes } from "../report.ts";
import { cpuChart, latencyChart, throughputChart } from "./figures.ts";
import { percentilePlot } from "./percentile-plot.ts";
import { payloadGroups, type ReportData } from "./report-data.ts";
import { STYLE } from "./style.ts";
import { esc, short } from "./svg.ts";
import { runVerdict, verdictSection } from "./verdict.ts";

/** Extra sections placed after the run's own figures, e.g. a comparison with a baseline. */
export interface HtmlExtras {
  sections?: string[];
}

/**
 * The whole report as one self-contained HTML page: a header with the method and the
 * machine, the delivery verdict, and per payload size the latency percentile
 * distribution, throughput, CPU per 1,000 messages and round trip against one-way
 * latency. The plots are static SVG made here, with styles inline and no script, so
 * the file opens offline in any browser.
 */
export function renderHtml(report: ReportData, extras: HtmlExtras = {}): string {
  const groups = payloadGroups(report);
  const verdict = runVerdict(report.rows.filter((row) => row.state === "done" || row.state === "stopped"));
  const sections = groups.map(
    (group) =>
      `<section class="payload" data-payload="${group.payloadBytes}"><h2>${esc(formatBytes(group.payloadBytes))} payload</h2><div class="plots">${[percentilePlot(group), throughputChart(group), cpuChart(group), latencyChart(group)].join("")}</div></section>`,
  );
  const notes = [...(report.run.notes ?? []), ...report.rows.flatMap((row) => row.notes.map((note) => `${row.transport} ${formatBytes(row.payloadBytes)}: ${note}`))];
  return [
    "<!doctype html>",
    `<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>switchyard comparison ${esc(report.startedAt)}</title><style>${STYLE}</style></head>`,
    `<body data-verdict="${verdict}">`,
    header(report),
    verdictSection(report.rows.filter((row) => row.state === "done" || row.state === "stopped")),
    ...sections,
    pairsHtmlSection(report.rows),
    ...(extras.sections ?? []),
    summaryTable(report),
    notes.length > 0 ? `<section class="notes"><h2>Notes</h2><ul>${notes.map((note) => `<li>${esc(note)}</li>`).join("")}</ul></section>` : "",
    `<footer>Latency is the producer's: round trip for RPC, publish → confirm for AMQP; in an open loop it counts from each message's intended send time. One-way latency is the handler's handled_at − sent_at, estimated from its histogram buckets. Percentile points come from the producer's HDR histogram (3 significant digits).</footer>`,
    "</body></html>",
    "",
  ].join("\n");
}

/** The load in words, from the run's specification: loop, window, warm-up, timeout. */
export function describeMethod(report: ReportData): string[] {
  const spec = report.run.spec ?? {};
  const loop = spec.rate !== undefined
    ? `open loop at ${short(spec.rate)} msg/s (latency from intended send times)`
    : `closed loop, ${spec.concurrency ?? "?"} concurrent senders`;
  const window = spec.messages !== undefined ? `${Number(spec.messages).toLocaleString("en-US")} measured messages per phase` : `${seconds(spec.duration)} measured per phase`;
  return [
    loop,
    window,
    spec.warmup ? `${seconds(spec.warmup)} warm-up` : "no warm-up",
    ...(spec.sendTimeout ? [`send timeout ${seconds(spec.sendTimeout)}`] : []),
    `transports ${(spec.transports ?? []).join(", ")}`,
    `payloads ${(spec.payloadBytes ?? []).map(formatBytes).join(", ")}`,
  ];
}

/** `"1.500s"` (protobuf JSON Duration) → `1.5 s`. */
function seconds(duration: string | undefined): string {
  if (duration === undefined) return "?";
  return `${Number(duration.replace(/s$/, ""))} s`;
}

function header(report: ReportData): string {
  const facts: Array<[string, string]> = [
    ["method", describeMethod(report).join(" · ")],
    ["machine", report.machine],
    ["Node", report.node],
    ["RabbitMQ", report.rabbitmq ?? "unknown (not asked)"],
    ["target", report.target],
    ["command", report.command],
    ["run", `${report.run.id ?? "?"}, ${String(report.run.state ?? "?").replace(/^RUN_STATE_/, "").toLowerCase()}, started ${report.startedAt}`],
  ];
  return `<header><h1>switchyard: transports compared</h1><dl class="facts">${facts.map(([name, value]) => `<dt>${esc(name)}</dt><dd data-fact="${esc(name)}">${esc(value)}</dd>`).join("")}</dl></header>`;
}

function summaryTable(report: ReportData): string {
  const optional = (value: number | undefined) => (value === undefined ? "–" : short(value));
  const body = report.rows.map(
    (row) =>
      `<tr><td>${esc(row.transport)}${row.implementation === "reference" ? " (reference)" : ""}</td><td>${esc(formatBytes(row.payloadBytes))}</td><td>${esc(row.state)}</td><td class="num">${short(row.throughput)}</td><td class="num">${short(row.p50Ms)}</td><td class="num">${short(row.p99Ms)}</td><td class="num">${short(row.p999Ms)}</td><td class="num">${optional(row.handlerP50Ms)}</td><td class="num">${optional(row.handlerP99Ms)}</td><td class="num">${optional(row.producerCpuMsPer1k)}</td><td class="num">${optional(row.handlerCpuMsPer1k)}</td><td class="num">${optional(row.brokerCpuMsPer1k)}</td><td class="num">${short(row.bytesPerMessage)}</td></tr>`,
  );
  return `<section class="table"><h2>All figures</h2><table><thead><tr><th>transport</th><th>payload</th><th>state</th><th>msgs/s</th><th>p50 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>one-way p50 ms</th><th>one-way p99 ms</th><th>CPU ms/1k producer</th><th>handler</th><th>broker</th><th>bytes/msg</th></tr></thead><tbody>${body.join("")}</tbody></table></section>`;
}
