// `compare --reference`: each transport's phase beside its reference implementation's,
// and the ratio of the two, so one table shows what the protocol costs and what the
// library adds.
import { isReferenceTransport, REFERENCE_OF, type LibraryTransport } from "@switchyard/measurement";
import { esc, short } from "./html/svg.ts";
import { formatBytes, totalCpuMsPer1k, type Row } from "./report.ts";

/**
 * The transports of a `--reference` run: each one asked for, followed by its reference
 * (`grpc,connect,amqp` → `grpc,grpc_js,connect,http_json,amqp,amqplib`). A reference
 * named on its own stays where it is, once.
 */
export function withReferences(transports: readonly string[]): string[] {
  const listed = transports.length > 0 ? transports : ["grpc", "connect", "amqp"];
  const out: string[] = [];
  for (const transport of listed) {
    if (!out.includes(transport)) out.push(transport);
    const reference = REFERENCE_OF[transport as LibraryTransport];
    if (reference !== undefined && !out.includes(reference)) out.push(reference);
  }
  return out;
}

/** True when a transport list needs the handler's reference endpoints and the producer's reference senders. */
export function needsReferenceEndpoints(transports: readonly string[]): boolean {
  return transports.some((transport) => isReferenceTransport(transport));
}

/** One library row and its reference row at the same payload size, and their ratios. */
export interface ReferencePair {
  payloadBytes: number;
  library: string;
  reference: string;
  /** library ÷ reference; undefined when either side has no figure (or the reference's is 0). */
  throughput: number | undefined;
  p50: number | undefined;
  p99: number | undefined;
  producerCpu: number | undefined;
  handlerCpu: number | undefined;
  totalCpu: number | undefined;
}

const ratio = (library: number | undefined, reference: number | undefined) =>
  library === undefined || reference === undefined || reference === 0 || !Number.isFinite(library / reference) ? undefined : library / reference;

/** Every library row that has its reference row at the same payload size, in run order. */
export function referencePairs(rows: readonly Row[]): ReferencePair[] {
  const measured = rows.filter((row) => row.state === "done" || row.state === "stopped");
  const pairs: ReferencePair[] = [];
  for (const library of measured) {
    const referenceName = REFERENCE_OF[library.transport as LibraryTransport];
    const reference = measured.find((row) => row.transport === referenceName && row.payloadBytes === library.payloadBytes);
    if (!reference) continue;
    pairs.push({
      payloadBytes: library.payloadBytes,
      library: library.transport,
      reference: reference.transport,
      throughput: ratio(library.throughput, reference.throughput),
      p50: ratio(library.p50Ms, reference.p50Ms),
      p99: ratio(library.p99Ms, reference.p99Ms),
      producerCpu: ratio(library.producerCpuMsPer1k, reference.producerCpuMsPer1k),
      handlerCpu: ratio(library.handlerCpuMsPer1k, reference.handlerCpuMsPer1k),
      totalCpu: ratio(totalCpuMsPer1k(library), totalCpuMsPer1k(reference)),
    });
  }
  return pairs;
}

const times = (value: number | undefined) => (value === undefined ? "–" : `${value.toFixed(2)}×`);

/**
 * One line per pair, library ÷ reference, e.g. `64 B grpc ÷ grpc_js: msgs/s 0.31× · p50
 * 2.40× · p99 2.10× · CPU/msg producer 5.10× · handler 4.20× · total 3.90×`.
 */
export function pairLines(pairs: readonly ReferencePair[]): string[] {
  return pairs.map(
    (pair) =>
      `${formatBytes(pair.payloadBytes)} ${pair.library} ÷ ${pair.reference}: msgs/s ${times(pair.throughput)} · p50 ${times(pair.p50)} · p99 ${times(pair.p99)} · CPU/msg producer ${times(pair.producerCpu)} · handler ${times(pair.handlerCpu)} · total ${times(pair.totalCpu)}`,
  );
}

/** What the pair lines mean, for every report that prints them. */
export const PAIRS_LEGEND =
  "switchyard (library) ÷ its reference, same payload, same handleWork (above 1×: CPU and latency the library adds to the protocol's; below 1× msgs/s: throughput it loses):";

/** The pairs as an HTML section of the report, or nothing when the run had no reference rows. */
export function pairsHtmlSection(rows: readonly Row[]): string {
  const pairs = referencePairs(rows);
  if (pairs.length === 0) return "";
  const cell = (value: number | undefined) => `<td class="num">${value === undefined ? "–" : `${short(value)}×`}</td>`;
  const body = pairs.map(
    (pair) =>
      `<tr data-pair="${esc(pair.library)}"><td>${esc(formatBytes(pair.payloadBytes))}</td><td>${esc(pair.library)}</td><td>${esc(pair.reference)}</td>${[pair.throughput, pair.p50, pair.p99, pair.producerCpu, pair.handlerCpu, pair.totalCpu].map(cell).join("")}</tr>`,
  );
  return `<section class="table reference"><h2>switchyard (library) against the reference</h2><p>${esc(PAIRS_LEGEND.replace(/:$/, "."))}</p><table><thead><tr><th>payload</th><th>switchyard (library)</th><th>reference</th><th>msgs/s</th><th>p50</th><th>p99</th><th>CPU/msg producer</th><th>handler</th><th>total</th></tr></thead><tbody>${body.join("")}</tbody></table></section>`;
}

/**
 * A local handler's reference settings: the grpc-js and node:http endpoints on the two
 * ports given, and the raw amqplib consumer.
 */
export function referenceHandlerEnv(grpcPort: number, httpPort: number): Record<string, string> {
  return { REFERENCE_GRPC_PORT: String(grpcPort), REFERENCE_HTTP_PORT: String(httpPort), REFERENCE_AMQP: "on" };
}

/** The local producer's reference senders, to every handler's reference endpoints. */
export function referenceProducerEnv(ports: ReadonlyArray<{ grpc: number; http: number }>): Record<string, string> {
  return {
    REFERENCE_GRPC_URLS: ports.map(({ grpc }) => `http://127.0.0.1:${grpc}`).join(","),
    REFERENCE_HTTP_URLS: ports.map(({ http }) => `http://127.0.0.1:${http}`).join(","),
    REFERENCE_AMQP: "on",
  };
}
