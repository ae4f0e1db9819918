import { toJson } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { LossBasis, PhaseState, RunSchema, RunState, type PhaseResult, type Run } from "@switchyard/contracts";
import { isReferenceTransport } from "@switchyard/measurement";
import { pairLines, PAIRS_LEGEND, referencePairs } from "./reference.ts";

/** One row of the comparison table, as plain values. */
export interface Row {
  transport: string;
  payloadBytes: number;
  state: string;
  throughput: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  errors: number;
  outcomes: Record<string, number>;
  /** Open loop: scheduled sends that never started. */
  notSent: number;
  /** Open loop: median and 99th percentile of actual minus intended send time. */
  scheduleLagP50Ms: number | undefined;
  scheduleLagP99Ms: number | undefined;
  lost: number | undefined;
  duplicated: number | undefined;
  producerCpuMsPer1k: number | undefined;
  handlerCpuMsPer1k: number | undefined;
  /** AMQP: the broker node's CPU per 1,000 messages. */
  brokerCpuMsPer1k: number | undefined;
  bytesPerMessage: number;
  handlerP50Ms: number | undefined;
  handlerP99Ms: number | undefined;
  sent: number;
  acknowledged: number;
  received: number | undefined;
  elapsedMs: number;
  notes: string[];
  /** Each handler incarnation's share of the phase: distinct sequences it handled. */
  replicas: Array<{ handlerId: string; incarnationId: string; handled: number }>;
  /** How lost was established: `handler ledger`, `broker counts` or `unknown`. */
  lossBasis: string;
  /**
   * What the row measured: switchyard's own libraries, or a reference implementation of
   * the same protocol (`compare --reference`). Absent in reports written before.
   */
  implementation?: "switchyard (library)" | "reference";
}

const PHASE_STATE_NAMES: Record<number, string> = {
  [PhaseState.PENDING]: "pending",
  [PhaseState.WARMING_UP]: "warming up",
  [PhaseState.MEASURING]: "measuring",
  [PhaseState.DRAINING]: "draining",
  [PhaseState.RECONCILING]: "reconciling",
  [PhaseState.DONE]: "done",
  [PhaseState.STOPPED]: "stopped",
  [PhaseState.SKIPPED]: "skipped",
};

const LOSS_BASIS_NAMES: Record<number, string> = {
  [LossBasis.HANDLER_LEDGER]: "handler ledger",
  [LossBasis.BROKER_COUNTS]: "broker counts",
  [LossBasis.UNKNOWN]: "unknown",
};

/**
 * Each handler's share of each phase, when more than one handler incarnation took part
 * in any phase, e.g. `grpc 64 B: compare-handler-1 34% · compare-handler-2 33% · …`.
 * Shares are of the distinct sequences handled; a restarted handler appears once per
 * incarnation.
 */
export function replicaShares(rows: readonly Row[]): string[] {
  if (!rows.some((row) => row.replicas.length > 1)) return [];
  return rows.map((row) => {
    const total = row.replicas.reduce((sum, replica) => sum + replica.handled, 0);
    const incarnations = new Map<string, number>();
    for (const replica of row.replicas) incarnations.set(replica.handlerId, (incarnations.get(replica.handlerId) ?? 0) + 1);
    const parts = [...row.replicas]
      .sort((a, b) => a.handlerId.localeCompare(b.handlerId))
      .map((replica) => {
        const name = (incarnations.get(replica.handlerId) ?? 0) > 1 ? `${replica.handlerId}/${replica.incarnationId.slice(0, 6)}` : replica.handlerId;
        return `${name} ${total > 0 ? Math.round((100 * replica.handled) / total) : 0}%`;
      });
    return `${row.transport} ${formatBytes(row.payloadBytes)}: ${parts.join(" · ") || dash}`;
  });
}

/** A phase's state in words. */
export function phaseStateName(state: PhaseState): string {
  return PHASE_STATE_NAMES[state] ?? "unknown";
}

/** A run's state in words. */
export function runStateName(state: RunState): string {
  const names: Record<number, string> = {
    [RunState.RUNNING]: "running",
    [RunState.SUCCEEDED]: "succeeded",
    [RunState.STOPPED]: "stopped",
    [RunState.FAILED]: "failed",
  };
  return names[state] ?? "unknown";
}

/** Flattens a PhaseResult into a row. */
export function toRow(phase: PhaseResult): Row {
  const latency = phase.latency;
  const ledger = phase.ledger;
  const tracked = ledger?.tracked ?? false;
  return {
    transport: phase.transport,
    payloadBytes: phase.payloadBytes,
    state: phaseStateName(phase.state),
    throughput: phase.throughput,
    p50Ms: latency?.p50Ms ?? 0,
    p90Ms: latency?.p90Ms ?? 0,
    p99Ms: latency?.p99Ms ?? 0,
    p999Ms: latency?.p999Ms ?? 0,
    maxMs: latency?.maxMs ?? 0,
    errors: Number(phase.errors),
    outcomes: Object.fromEntries(Object.entries(phase.outcomes).map(([code, count]) => [code, Number(count)])),
    notSent: Number(phase.notSent),
    scheduleLagP50Ms: phase.scheduleLag?.p50Ms,
    scheduleLagP99Ms: phase.scheduleLag?.p99Ms,
    lost: tracked && ledger!.lost !== undefined ? Number(ledger!.lost) : undefined,
    duplicated: tracked ? Number(ledger!.duplicated) : undefined,
    producerCpuMsPer1k: phase.producerCpuMsPer1k,
    handlerCpuMsPer1k: phase.handlerCpuMsPer1k,
    brokerCpuMsPer1k: phase.brokerCpuMsPer1k,
    bytesPerMessage: phase.bytesPerMessage,
    handlerP50Ms: phase.handlerLatency?.p50Ms,
    handlerP99Ms: phase.handlerLatency?.p99Ms,
    sent: Number(ledger?.sent ?? 0n),
    acknowledged: Number(ledger?.acknowledged ?? 0n),
    received: tracked ? Number(ledger!.received) : undefined,
    elapsedMs: phase.elapsed ? durationMs(phase.elapsed) : 0,
    notes: [...phase.notes],
    replicas: (ledger?.replicas ?? []).map((replica) => ({
      handlerId: replica.handlerId,
      incarnationId: replica.incarnationId,
      handled: Number(replica.handled),
    })),
    lossBasis: LOSS_BASIS_NAMES[ledger?.lossBasis ?? LossBasis.UNSPECIFIED] ?? "unknown",
    implementation: isReferenceTransport(phase.transport) ? "reference" : "switchyard (library)",
  };
}

/** `64 B`, `16 KiB`, `1 MiB`, `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024) return `${Number((bytes / 1024).toFixed(1))} KiB`;
  return `${bytes} B`;
}

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** Milliseconds with three significant digits (0.123, 1.23, 12.3, 123). */
export function formatMs(ms: number): string {
  if (ms === 0) return "0";
  if (ms >= 100) return integer.format(ms);
  return ms.toPrecision(3);
}

const dash = "–";
const optional = (value: number | undefined, format: (value: number) => string) => (value === undefined ? dash : format(value));
const oneDecimal = (value: number) => value.toFixed(1);

/** The comparison table's columns, in the Contract order. */
export const COLUMNS = [
  "transport",
  "payload",
  "msgs/s",
  "p50 ms",
  "p99 ms",
  "p99.9 ms",
  "errors",
  "lost",
  "dup",
  "CPU ms/1k producer",
  "CPU ms/1k handler",
  "CPU ms/1k broker",
  "CPU ms/1k total",
  "bytes/msg",
] as const;

/**
 * The whole CPU cost per 1,000 messages: producer, handlers and (AMQP) broker. Undefined
 * when a part the transport needs is missing, rather than a total that looks cheaper.
 */
export function totalCpuMsPer1k(row: Row): number | undefined {
  if (row.producerCpuMsPer1k === undefined || row.handlerCpuMsPer1k === undefined) return undefined;
  if (row.transport === "amqp" && row.brokerCpuMsPer1k === undefined) return undefined;
  return row.producerCpuMsPer1k + row.handlerCpuMsPer1k + (row.brokerCpuMsPer1k ?? 0);
}

/** One row's cells, as text, in {@link COLUMNS} order. */
export function cells(row: Row): string[] {
  return [
    row.implementation === "reference" ? `${row.transport} (reference)` : row.transport,
    formatBytes(row.payloadBytes),
    integer.format(row.throughput),
    formatMs(row.p50Ms),
    formatMs(row.p99Ms),
    formatMs(row.p999Ms),
    integer.format(row.errors),
    optional(row.lost, (value) => integer.format(value)),
    optional(row.duplicated, (value) => integer.format(value)),
    optional(row.producerCpuMsPer1k, oneDecimal),
    optional(row.handlerCpuMsPer1k, oneDecimal),
    optional(row.brokerCpuMsPer1k, oneDecimal),
    optional(totalCpuMsPer1k(row), oneDecimal),
    integer.format(Math.round(row.bytesPerMessage)),
  ];
}

/** The table aligned for a terminal: text left, numbers right. */
export function textTable(rows: readonly Row[]): string {
  const body = rows.map(cells);
  const widths = COLUMNS.map((title, column) => Math.max(title.length, ...body.map((line) => line[column]!.length)));
  const render = (line: readonly string[]) =>
    line.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ").trimEnd();
  return [render(COLUMNS), render(widths.map((width) => "─".repeat(width))), ...body.map(render)].join("\n");
}

/** The table in GitHub Markdown, numbers right-aligned. */
export function markdownTable(rows: readonly Row[]): string {
  const header = `| ${COLUMNS.join(" | ")} |`;
  const rule = `|${COLUMNS.map((_, column) => (column < 2 ? "---" : "---:")).join("|")}|`;
  return [header, rule, ...rows.map((row) => `| ${cells(row).join(" | ")} |`)].join("\n");
}

/**
 * Throughput of each transport relative to the fastest one at the same payload size,
 * e.g. `64 B: amqp 1.00 · connect 0.48 · grpc 0.23`.
 */
export function throughputRatios(rows: readonly Row[]): string[] {
  const sizes = [...new Set(rows.map((row) => row.payloadBytes))];
  return sizes.map((size) => {
    const same = rows.filter((row) => row.payloadBytes === size).sort((a, b) => b.throughput - a.throughput);
    const fastest = same[0]?.throughput ?? 0;
    const parts = same.map((row) => `${row.transport} ${fastest > 0 ? (row.throughput / fastest).toFixed(2) : dash}`);
    return `${formatBytes(size)}: ${parts.join(" · ")}`;
  });
}

/** Notes of every phase, prefixed with the phase they belong to. */
export function phaseNotes(rows: readonly Row[]): string[] {
  return rows.flatMap((row) => row.notes.map((note) => `${row.transport} ${formatBytes(row.payloadBytes)}: ${note}`));
}

/**
 * Details the main table leaves out: p90/max, the open loop's schedule lag, the
 * handler's one-way latency, outcomes, sends that never started, ledger.
 */
export function detailsMarkdown(rows: readonly Row[]): string {
  const header =
    "| transport | payload | state | p90 ms | max ms | schedule lag p50 ms | schedule lag p99 ms | one-way p50 ms | one-way p99 ms | outcomes | not sent | sent | acknowledged | received | loss established by |";
  const rule = "|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|";
  const lines = rows.map((row) =>
    `| ${[
      row.transport,
      formatBytes(row.payloadBytes),
      row.state,
      formatMs(row.p90Ms),
      formatMs(row.maxMs),
      optional(row.scheduleLagP50Ms, formatMs),
      optional(row.scheduleLagP99Ms, formatMs),
      optional(row.handlerP50Ms, formatMs),
      optional(row.handlerP99Ms, formatMs),
      Object.entries(row.outcomes).map(([code, count]) => `${code} ${count}`).join(", ") || dash,
      integer.format(row.notSent),
      integer.format(row.sent),
      integer.format(row.acknowledged),
      optional(row.received, (value) => integer.format(value)),
      row.lossBasis,
    ].join(" | ")} |`,
  );
  return [header, rule, ...lines].join("\n");
}

/** Facts about where and how the comparison ran, for the report's header. */
export interface ReportContext {
  command: string;
  startedAt: Date;
  target: string;
  machine: string;
  node: string;
  /** The broker's product and version, when it could be asked. */
  rabbitmq?: string;
}

/** Describes the load and length of a run in words. */
export function describeSpec(run: Run): string {
  const spec = run.spec;
  if (!spec) return "";
  const load = spec.load.case === "rate" ? `open loop at ${spec.load.value} msg/s` : `closed loop, concurrency ${spec.load.value ?? "?"}`;
  const end = spec.end.case === "messages"
    ? `${spec.end.value} measured messages per phase`
    : `${spec.end.case === "duration" ? durationMs(spec.end.value) / 1000 : "?"} s measured per phase`;
  const warmup = spec.warmup ? `${durationMs(spec.warmup) / 1000} s warm-up` : "no warm-up";
  return `${load}; ${end}; ${warmup}`;
}

/** The whole report as Markdown. */
export function markdownReport(run: Run, context: ReportContext): string {
  const rows = run.phases.map(toRow);
  const notes = [...run.notes, ...phaseNotes(rows)];
  return [
    `# switchyard transport comparison`,
    "",
    `- command: \`${context.command}\``,
    `- started: ${context.startedAt.toISOString()}; run ${run.id}, ${runStateName(run.state)}`,
    `- target: ${context.target}`,
    `- machine: ${context.machine}; Node ${context.node}${context.rabbitmq ? `; ${context.rabbitmq}` : ""}`,
    `- load: ${describeSpec(run)}`,
    "",
    markdownTable(rows),
    "",
    "Throughput relative to the fastest transport at each payload size:",
    "",
    ...throughputRatios(rows).map((line) => `- ${line}`),
    "",
    ...(referencePairs(rows).length > 0 ? [PAIRS_LEGEND, "", ...pairLines(referencePairs(rows)).map((line) => `- ${line}`), ""] : []),
    ...(replicaShares(rows).length > 0
      ? ["Each handler's share of a phase's messages:", "", ...replicaShares(rows).map((line) => `- ${line}`), ""]
      : []),
    "## Details",
    "",
    detailsMarkdown(rows),
    "",
    ...(notes.length > 0 ? ["## Notes", "", ...notes.map((note) => `- ${note}`), ""] : []),
    "Latency is round trip (RPC) or publish to confirm (AMQP), over successful sends. In an open loop (`--rate`)",
    "it counts from each message's intended send time, so queueing behind a stalled transport is not hidden",
    "(no coordinated omission); the schedule lag (actual − intended send) is the part of it spent before sending.",
    "msgs/s counts sends that succeeded inside the fixed measured window; sends that never started are counted",
    "apart as not sent and divide nothing. One-way latency is the handler's handled_at − sent_at, estimated from its",
    "histogram buckets. The ledger covers each whole phase, warm-up included.",
    "",
  ].join("\n");
}

/** The whole report as JSON: context, the run as the API returns it, and the rows. */
export function jsonReport(run: Run, context: ReportContext): string {
  return `${JSON.stringify(
    {
      command: context.command,
      startedAt: context.startedAt.toISOString(),
      target: context.target,
      machine: context.machine,
      node: context.node,
      rabbitmq: context.rabbitmq,
      rows: run.phases.map(toRow),
      ...(referencePairs(run.phases.map(toRow)).length > 0 && { referencePairs: referencePairs(run.phases.map(toRow)) }),
      run: toJson(RunSchema, run),
    },
    null,
    2,
  )}\n`;
}
