import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../support/process.ts";

/** The metric reference page. */
export const METRICS_DOC_PATH = join(ROOT, "docs/metrics.md");

/** One metric row of docs/metrics.md. */
export interface DocumentedMetric {
  name: string;
  /** counter, gauge, histogram …; undefined for recorded series. */
  type: string | undefined;
  labels: string[];
  /** `handler`, `producer`, `both`, or a `rabbitmq …` source; undefined for recorded series. */
  exportedBy: string | undefined;
}

const code = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);

/**
 * Every table row of docs/metrics.md whose first cell is a `metric_name`, keyed by name.
 * Metric tables read `| Metric | Type | Labels | Unit | Exported by | Meaning |`; the
 * recording-rule table `| Series | Labels | Meaning |`.
 */
export function documentedMetrics(): Map<string, DocumentedMetric> {
  const metrics = new Map<string, DocumentedMetric>();
  for (const line of readFileSync(METRICS_DOC_PATH, "utf8").split("\n")) {
    if (!line.startsWith("| `")) continue;
    const cells = line.split("|").slice(1, -1).map((cell) => cell.trim());
    const name = code(cells[0]!)[0]!;
    if (metrics.has(name)) throw new Error(`docs/metrics.md lists ${name} twice`);
    metrics.set(
      name,
      cells.length >= 6
        ? { name, type: cells[1], labels: code(cells[2]!), exportedBy: cells[4] }
        : { name, type: undefined, labels: code(cells[1]!), exportedBy: undefined },
    );
  }
  return metrics;
}

/** The documented families a service exports (`both` rows count for each). */
export function documentedFor(service: "handler" | "producer"): Map<string, DocumentedMetric> {
  return new Map(
    [...documentedMetrics()].filter(([, metric]) => metric.exportedBy === service || metric.exportedBy === "both"),
  );
}

/** One family of a Prometheus text exposition: its TYPE and every label its samples carry. */
export interface ExposedFamily {
  type: string;
  labels: Set<string>;
}

/**
 * Parses Prometheus text format into families. Histogram sample suffixes fold into their
 * family, and `le` is not counted as a label.
 */
export function parseExposition(text: string): Map<string, ExposedFamily> {
  const families = new Map<string, ExposedFamily>();
  for (const line of text.split("\n")) {
    const typeLine = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (typeLine) {
      families.set(typeLine[1]!, { type: typeLine[2]!, labels: new Set() });
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    const sample = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s/.exec(line);
    if (!sample) continue;
    const name = sample[1]!;
    const family =
      families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, "")) ?? undefined;
    if (!family) throw new Error(`sample without a TYPE line: ${line}`);
    for (const label of (sample[3] ?? "").matchAll(/(\w+)="/g)) {
      if (label[1] !== "le") family.labels.add(label[1]!);
    }
  }
  return families;
}

/**
 * Whether a series name a query reads is documented: a listed family or recorded series,
 * a histogram's `_bucket`/`_sum`/`_count`, or Prometheus' own `up`.
 */
export function isDocumented(name: string, documented = documentedMetrics()): boolean {
  if (name === "up" || documented.has(name)) return true;
  return documented.get(name.replace(/_(bucket|sum|count)$/, ""))?.type === "histogram";
}
