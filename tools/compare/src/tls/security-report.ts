// The cost-of-security report: each transport and payload measured cleartext and over
// TLS (or mutual TLS), the two rows next to each other, with the handshake each
// transport pays and how many connections pay it.
import { formatBytes, formatMs, totalCpuMsPer1k, type ReportContext, type Row } from "../report.ts";
import { STYLE } from "../html/style.ts";
import { esc } from "../html/svg.ts";
import type { HandshakeFigures } from "./handshake.ts";
import type { SecurityMode } from "./service-env.ts";

/** One transport and payload in one mode: the run's row and the connection set-up it paid. */
export interface SecurityRow extends Row {
  mode: SecurityMode;
  /** Handshakes at the endpoint this transport used; cleartext: the TCP connect alone. */
  handshake: HandshakeFigures | undefined;
  /** Most connections the transport held open at once while measuring (each paid one handshake). */
  connections: number | undefined;
}

/** What a mode's run was, for the report's header. */
export interface ModeRun {
  mode: SecurityMode;
  runId: string;
  state: string;
  /** The mode's own full report (report.{json,md,html}), relative to the comparison's folder. */
  folder: string;
  target: string;
}

/** The whole comparison: context, both runs, and the rows, cleartext and secured next to each other. */
export interface SecurityReport {
  context: ReportContext;
  security: Exclude<SecurityMode, "cleartext">;
  runs: ModeRun[];
  rows: SecurityRow[];
}

/** How a transport sets up its connections, for the notes. */
const CONNECTION_NOTES: Record<string, string> = {
  grpc: "gRPC: HTTP/2 over TLS (ALPN h2) multiplexes every call over one connection per handler: one handshake",
  connect: "Connect: HTTP/1.1 keeps a pool of connections, one per concurrent call, each with its own handshake (Node's agent may resume TLS sessions for later ones)",
  amqp: "AMQP: long-lived connections (the producer's and each handler's), one handshake each at start",
};

export const SECURITY_COLUMNS = [
  "transport",
  "payload",
  "mode",
  "msgs/s",
  "p50 ms",
  "p99 ms",
  "errors",
  "lost",
  "CPU ms/1k producer",
  "CPU ms/1k handler",
  "CPU ms/1k broker",
  "CPU ms/1k total",
  "handshake ms",
  "conns",
] as const;

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const dash = "–";
const optional = (value: number | undefined, format: (value: number) => string) => (value === undefined ? dash : format(value));
const oneDecimal = (value: number) => value.toFixed(1);
const twoDecimals = (value: number) => value.toFixed(2);

/** Rows ordered for reading: per transport and payload, the cleartext row, then the secured one. */
export function pairedRows(rows: readonly SecurityRow[]): SecurityRow[] {
  const key = (row: SecurityRow) => `${row.transport}\u0000${row.payloadBytes}`;
  const order = [...new Set(rows.map(key))];
  const modeRank = (row: SecurityRow) => (row.mode === "cleartext" ? 0 : 1);
  return [...rows].sort((a, b) => order.indexOf(key(a)) - order.indexOf(key(b)) || modeRank(a) - modeRank(b));
}

/** A row's cells, in {@link SECURITY_COLUMNS} order. */
export function securityCells(row: SecurityRow): string[] {
  return [
    row.transport,
    formatBytes(row.payloadBytes),
    row.mode,
    integer.format(row.throughput),
    formatMs(row.p50Ms),
    formatMs(row.p99Ms),
    integer.format(row.errors),
    optional(row.lost, (value) => integer.format(value)),
    optional(row.producerCpuMsPer1k, oneDecimal),
    optional(row.handlerCpuMsPer1k, oneDecimal),
    optional(row.brokerCpuMsPer1k, oneDecimal),
    optional(totalCpuMsPer1k(row), oneDecimal),
    optional(row.handshake?.medianMs, twoDecimals),
    optional(row.connections, (value) => integer.format(value)),
  ];
}

/** The side-by-side table for a terminal. */
export function securityTextTable(rows: readonly SecurityRow[]): string {
  const body = pairedRows(rows).map(securityCells);
  const widths = SECURITY_COLUMNS.map((title, column) => Math.max(title.length, ...body.map((line) => line[column]!.length)));
  const render = (line: readonly string[]) =>
    line.map((cell, column) => (column < 3 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ").trimEnd();
  return [render(SECURITY_COLUMNS), render(widths.map((width) => "─".repeat(width))), ...body.map(render)].join("\n");
}

/** The side-by-side table in GitHub Markdown. */
export function securityMarkdownTable(rows: readonly SecurityRow[]): string {
  const header = `| ${SECURITY_COLUMNS.join(" | ")} |`;
  const rule = `|${SECURITY_COLUMNS.map((_, column) => (column < 3 ? "---" : "---:")).join("|")}|`;
  return [header, rule, ...pairedRows(rows).map((row) => `| ${securityCells(row).join(" | ")} |`)].join("\n");
}

/**
 * Per transport and payload, what security cost, e.g. `grpc 64 B: throughput ×0.91,
 * CPU total +12% (18.0 → 20.2 ms/1k), handshake 3.35 ms vs 0.05 ms × 1 connection`.
 */
export function securityCosts(rows: readonly SecurityRow[]): string[] {
  const lines: string[] = [];
  const paired = pairedRows(rows);
  for (let i = 0; i < paired.length; i++) {
    const [clear, secured] = [paired[i]!, paired[i + 1]];
    if (clear.mode !== "cleartext" || !secured || secured.transport !== clear.transport || secured.payloadBytes !== clear.payloadBytes) continue;
    i++;
    const parts: string[] = [];
    if (clear.throughput > 0) parts.push(`throughput ×${(secured.throughput / clear.throughput).toFixed(2)}`);
    const [cpuClear, cpuSecured] = [totalCpuMsPer1k(clear), totalCpuMsPer1k(secured)];
    if (cpuClear !== undefined && cpuSecured !== undefined && cpuClear > 0) {
      const change = (100 * (cpuSecured - cpuClear)) / cpuClear;
      parts.push(`CPU total ${change >= 0 ? "+" : ""}${change.toFixed(0)}% (${oneDecimal(cpuClear)} → ${oneDecimal(cpuSecured)} ms/1k)`);
    }
    if (secured.handshake) {
      const connections = secured.connections ?? 0;
      parts.push(
        `handshake ${twoDecimals(secured.handshake.medianMs)} ms vs ${clear.handshake ? twoDecimals(clear.handshake.medianMs) : dash} ms TCP only, × ${connections} connection${connections === 1 ? "" : "s"}`,
      );
    }
    lines.push(`${clear.transport} ${formatBytes(clear.payloadBytes)}: ${parts.join(", ")}`);
  }
  return lines;
}

/** Notes on how each transport present pays for its handshakes. */
export function connectionNotes(rows: readonly SecurityRow[]): string[] {
  return [...new Set(rows.map((row) => row.transport))].flatMap((transport) => (CONNECTION_NOTES[transport] ? [CONNECTION_NOTES[transport]] : []));
}

const METHOD = [
  "Both modes run the same phases one after another against services started for that mode; only the",
  "handler's listeners and both services' broker connections change (the producer's control API stays",
  "cleartext; ObservationService is on the handler's own ops listener in both). handshake ms: median of",
  "fresh connections timed from connect() to ready at the endpoint the transport used: the TCP connect",
  "alone in cleartext, TCP + a full TLS handshake (server verified; client certificate shown under mTLS)",
  "otherwise. conns: the most connections the transport held open at once while measuring, counted from",
  "/proc for the producer's (and for AMQP the handlers') sockets; each paid one handshake.",
];

/** The comparison as Markdown. */
export function securityMarkdown(report: SecurityReport): string {
  const { context } = report;
  return [
    `# switchyard: the cost of ${report.security === "mtls" ? "mutual TLS" : "TLS"}`,
    "",
    `- command: \`${context.command}\``,
    `- started: ${context.startedAt.toISOString()}`,
    ...report.runs.map((run) => `- ${run.mode}: run ${run.runId}, ${run.state}; ${run.target}; full report in \`${run.folder}/\``),
    `- machine: ${context.machine}; Node ${context.node}${context.rabbitmq ? `; ${context.rabbitmq}` : ""}`,
    "",
    securityMarkdownTable(report.rows),
    "",
    "What security costs, per transport and payload:",
    "",
    ...securityCosts(report.rows).map((line) => `- ${line}`),
    "",
    ...connectionNotes(report.rows).map((line) => `- ${line}`),
    "",
    ...METHOD,
    "",
  ].join("\n");
}

/** The comparison as JSON: context, both runs, and every row with its mode, handshake and connections. */
export function securityJson(report: SecurityReport): string {
  const { context } = report;
  return `${JSON.stringify(
    {
      command: context.command,
      startedAt: context.startedAt.toISOString(),
      machine: context.machine,
      node: context.node,
      rabbitmq: context.rabbitmq,
      security: report.security,
      runs: report.runs,
      rows: pairedRows(report.rows),
    },
    null,
    2,
  )}\n`;
}

/** The comparison as one self-contained page, linking each mode's own report.html. */
export function securityHtml(report: SecurityReport): string {
  const { context } = report;
  const facts: Array<[string, string]> = [
    ["command", context.command],
    ["started", context.startedAt.toISOString()],
    ["machine", context.machine],
    ["Node", context.node],
    ["RabbitMQ", context.rabbitmq ?? "unknown (not asked)"],
  ];
  const runs = report.runs.map(
    (run) => `<li data-mode="${esc(run.mode)}"><strong>${esc(run.mode)}</strong>: run ${esc(run.runId)}, ${esc(run.state)}; ${esc(run.target)} — <a href="${esc(run.folder)}/report.html">full report</a></li>`,
  );
  const numeric = (column: number) => column >= 3;
  const body = pairedRows(report.rows).map(
    (row) =>
      `<tr data-transport="${esc(row.transport)}" data-mode="${esc(row.mode)}">${securityCells(row)
        .map((cell, column) => `<td${numeric(column) ? ' class="num"' : ""}>${esc(cell)}</td>`)
        .join("")}</tr>`,
  );
  return [
    "<!doctype html>",
    `<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>switchyard: the cost of ${report.security === "mtls" ? "mutual TLS" : "TLS"} ${esc(context.startedAt.toISOString())}</title><style>${STYLE}</style></head>`,
    `<body data-security="${esc(report.security)}">`,
    `<header><h1>switchyard: the cost of ${report.security === "mtls" ? "mutual TLS" : "TLS"}</h1><dl class="facts">${facts.map(([name, value]) => `<dt>${esc(name)}</dt><dd>${esc(value)}</dd>`).join("")}</dl><ul>${runs.join("")}</ul></header>`,
    `<section class="table"><h2>Cleartext and ${report.security === "mtls" ? "mutual TLS" : "TLS"}, side by side</h2><table><thead><tr>${SECURITY_COLUMNS.map((title) => `<th>${esc(title)}</th>`).join("")}</tr></thead><tbody>${body.join("")}</tbody></table></section>`,
    `<section class="notes"><h2>What security costs</h2><ul>${[...securityCosts(report.rows), ...connectionNotes(report.rows)].map((line) => `<li>${esc(line)}</li>`).join("")}</ul></section>`,
    `<footer>${esc(METHOD.join(" "))}</footer>`,
    "</body></html>",
    "",
  ].join("\n");
}
