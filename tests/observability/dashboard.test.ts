import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  fixedColour,
  isPerTransport,
  legendName,
  loadDashboard,
  queryPanels,
  RULES_PATH,
} from "./support/dashboard.ts";
import { documentedMetrics, isDocumented } from "./support/metrics-doc.ts";
import { metricName, vectorSelectors } from "./support/promql.ts";

// The static half of the dashboard's proof; live.test.ts runs every query for real.
const dashboard = loadDashboard();
const panels = queryPanels(dashboard);
const targets = panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel, target })));
const ALL_TRANSPORTS = ["grpc", "connect", "amqp", "grpc_web", "connect_proto"];

describe("the Grafana dashboard", () => {
  it("has the datasource, namespace and transport variables", () => {
    const variables = Object.fromEntries(dashboard.templating.list.map((variable) => [variable.name, variable]));
    expect(variables.datasource).toMatchObject({ type: "datasource", query: "prometheus" });
    expect(variables.namespace).toMatchObject({ type: "query", multi: false });
    expect(variables.transport).toMatchObject({ type: "query", multi: true, includeAll: true });
  });

  it("gives every panel a unit and a one-line description, on the chosen data source", () => {
    expect(panels.length).toBeGreaterThanOrEqual(15);
    for (const panel of panels) {
      expect(panel.fieldConfig?.defaults.unit, panel.title).toBeTruthy();
      expect(panel.description, panel.title).toMatch(/^[^\n]{20,250}$/);
      expect(panel.datasource, panel.title).toEqual({ type: "prometheus", uid: "${datasource}" });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
    expect(new Set(panels.map((panel) => panel.id)).size).toBe(panels.length);
  });

  it("filters every query by namespace and never hard-codes a vhost", () => {
    for (const { panel, target } of targets) {
      expect(target.expr, panel.title).toContain('namespace="$namespace"');
      expect(target.expr, panel.title).not.toMatch(/vhost\s*=/);
      expect(target.legendFormat, panel.title).toBeTruthy();
    }
  });

  it("sizes every rate window with $__rate_interval (recorded series carry their own)", () => {
    for (const { panel, target } of targets) {
      for (const window of target.expr.matchAll(/\[([^\]]+)\]/g)) {
        expect(window[1], panel.title).toBe("$__rate_interval");
      }
    }
  });

  it("colours each transport the same in every panel, and differently from the others", () => {
    const colourOf = new Map<string, string>();
    let perTransportTargets = 0;
    for (const { panel, target } of targets.filter(({ target }) => isPerTransport(target))) {
      perTransportTargets++;
      expect(target.legendFormat, panel.title).toMatch(/^\{\{transport\}\}/);
      for (const transport of ALL_TRANSPORTS) {
        const name = legendName(target.legendFormat, { transport, outcome: "ok" });
        const colour = fixedColour(panel, name);
        expect(colour, `${panel.title}: ${name}`).toBeTruthy();
        if (!colourOf.has(transport)) colourOf.set(transport, colour!);
        expect(colour, `${panel.title}: ${name}`).toBe(colourOf.get(transport));
      }
    }
    expect(perTransportTargets).toBeGreaterThanOrEqual(10);
    expect(new Set(colourOf.values()).size).toBe(ALL_TRANSPORTS.length);
  });

  it("reads only documented metrics and recorded series that the rules define", () => {
    const recorded = new Set(
      (parse(readFileSync(RULES_PATH, "utf8")) as { groups: Array<{ rules: Array<{ record?: string }> }> }).groups
        .flatMap((group) => group.rules)
        .flatMap((rule) => (rule.record ? [rule.record] : [])),
    );
    const documented = documentedMetrics();
    for (const { panel, target } of targets) {
      for (const selector of vectorSelectors(target.expr)) {
        const name = metricName(selector);
        const known = name.includes(":") ? recorded.has(name) : isDocumented(name, documented);
        expect(known, `${panel.title}: ${name}`).toBe(true);
      }
    }
  });
});

describe("vectorSelectors", () => {
  it("finds selectors and skips functions, modifiers, durations and strings", () => {
    expect(
      vectorSelectors(
        'sum by (namespace, job) (rate(a_total{x="y}", q=~"$t"}[$__rate_interval])) / on (namespace) group_left (job) b ' +
          'or label_replace(c, "d", "e", "", "") > 1e3 and max without (le) (histogram_quantile(0.99, d:e:f{q="1"})) offset 5m',
      ),
    ).toEqual(['a_total{x="y}", q=~"$t"}', "b", "c", 'd:e:f{q="1"}']);
  });
});
