import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../support/process.ts";

/** The one dashboard file the chart ships as a ConfigMap. */
export const DASHBOARD_PATH = join(ROOT, "charts/switchyard/files/dashboards/switchyard.json");
/** The one rules file the chart ships as a PrometheusRule and promtool reads. */
export const RULES_PATH = join(ROOT, "charts/switchyard/files/rules/switchyard.rules.yaml");

/** The three transports every per-transport panel must show. */
export const COMPARED_TRANSPORTS = ["grpc", "connect", "amqp"] as const;

/** The parts of a Grafana panel target the tests read. */
export interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
}

/** The parts of a Grafana field override the tests read. */
export interface Override {
  matcher: { id: string; options: string };
  properties: Array<{ id: string; value: unknown }>;
}

/** The parts of a Grafana panel the tests read. */
export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  fieldConfig?: { defaults: { unit?: string; min?: number; max?: number }; overrides: Override[] };
  targets?: Target[];
  panels?: Panel[];
}

/** The parts of a Grafana template variable the tests read. */
export interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  multi?: boolean;
  includeAll?: boolean;
}

/** The parts of the dashboard the tests read. */
export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

/** Reads and parses the dashboard JSON. */
export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_PATH, "utf8")) as Dashboard;
}

/** Every panel that runs queries, rows flattened (collapsed rows keep theirs inside). */
export function queryPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels
    .flatMap((panel) => (panel.type === "row" ? (panel.panels ?? []) : [panel]))
    .filter((panel) => panel.type !== "row");
}

/** Values for the dashboard's variables and Grafana's built-in interval variables. */
export interface Expansion {
  namespace: string;
  /** Selected transports; a multi-value selection becomes a regex alternation. */
  transport: readonly string[];
  /** Grafana's $__interval: the query step. */
  intervalSeconds: number;
  /** The data source's scrape interval setting, from which $__rate_interval follows. */
  scrapeIntervalSeconds: number;
}

/**
 * Grafana's $__rate_interval: max($__interval + scrape interval, 4 × scrape interval),
 * so a rate() window always holds at least four samples.
 */
export function rateIntervalSeconds(expansion: Expansion): number {
  return Math.max(expansion.intervalSeconds + expansion.scrapeIntervalSeconds, 4 * expansion.scrapeIntervalSeconds);
}

/**
 * Expands a query the way Grafana's Prometheus data source does: `$var` / `${var}` for
 * the dashboard variables (a multi-value selection as `(a|b|c)`) and the built-in
 * `$__rate_interval`, `$__interval`, `$__range`.
 */
export function expandQuery(expr: string, expansion: Expansion): string {
  const multi = (values: readonly string[]) => (values.length === 1 ? values[0]! : `(${values.join("|")})`);
  const values: Record<string, string> = {
    namespace: expansion.namespace,
    transport: multi(expansion.transport),
    __rate_interval: `${rateIntervalSeconds(expansion)}s`,
    __interval: `${expansion.intervalSeconds}s`,
    __range: "1h",
  };
  const expanded = expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    const value = values[name];
    if (value === undefined) throw new Error(`unknown variable ${whole} in ${expr}`);
    return value;
  });
  return expanded;
}

/** A series' display name as Grafana builds it from a legend format like `{{transport}} p99`. */
export function legendName(legendFormat: string | undefined, labels: Record<string, string>): string {
  if (!legendFormat) return JSON.stringify(labels);
  return legendFormat.replace(/\{\{\s*(\w+)\s*\}\}/g, (_whole, name: string) => labels[name] ?? "");
}

/** Grafana's `byRegexp` matcher: `/re/flags`, or a bare pattern anchored at both ends. */
export function grafanaRegex(pattern: string): RegExp {
  if (!pattern.startsWith("/")) return new RegExp(`^${pattern}$`);
  const match = /^\/(.*?)\/([gimsuy]*)$/.exec(pattern);
  if (!match) throw new Error(`not a Grafana regex: ${pattern}`);
  return new RegExp(match[1]!, match[2]);
}

/** The fixed colour the panel's overrides give a series name, or undefined. */
export function fixedColour(panel: Panel, name: string): string | undefined {
  let colour: string | undefined;
  for (const override of panel.fieldConfig?.overrides ?? []) {
    const matches =
      (override.matcher.id === "byName" && override.matcher.options === name) ||
      (override.matcher.id === "byRegexp" && grafanaRegex(override.matcher.options).test(name));
    if (!matches) continue;
    for (const property of override.properties) {
      const value = property.value as { mode?: string; fixedColor?: string } | undefined;
      // Later overrides win in Grafana, as here.
      if (property.id === "color" && value?.mode === "fixed") colour = value.fixedColor;
    }
  }
  return colour;
}

/** Whether a query is broken down per transport (selects on the transport variable). */
export function isPerTransport(target: Target): boolean {
  return /transport=~"\$\{?transport\}?"/.test(target.expr);
}
