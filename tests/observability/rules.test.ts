import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "../support/process.ts";
import { RULES_PATH } from "./support/dashboard.ts";
import { documentedMetrics, isDocumented } from "./support/metrics-doc.ts";
import { havePrometheus } from "./support/prometheus.ts";
import { metricName, vectorSelectors } from "./support/promql.ts";

const PROMTOOL_TESTS = join(ROOT, "tests/observability/rules.test.yaml");

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const groups = (parse(readFileSync(RULES_PATH, "utf8")) as { groups: Array<{ name: string; rules: Rule[] }> }).groups;
const rules = groups.flatMap((group) => group.rules);
const alerts = rules.filter((rule) => rule.alert);

function promtool(...args: string[]) {
  const result = spawnSync("promtool", args, { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe("switchyard.rules.yaml", () => {
  it.runIf(havePrometheus())("passes promtool check rules (syntax, lint)", () => {
    const { status, output } = promtool("check", "rules", RULES_PATH);
    expect(output).toContain("SUCCESS");
    expect(status, output).toBe(0);
  });

  it.runIf(havePrometheus())("passes its promtool unit tests", () => {
    const { status, output } = promtool("test", "rules", PROMTOOL_TESTS);
    expect(status, output).toBe(0);
    expect(output).toContain("SUCCESS");
  });

  it("has promtool in this environment (scripts/ensure-prometheus.sh installs it)", () => {
    expect(havePrometheus()).toBe(true);
  });

  it("gives every alert a for:, a severity, a summary and a description", () => {
    expect(alerts.map((alert) => alert.alert).sort()).toEqual([
      "SwitchyardDeadLetterQueueGrowing",
      "SwitchyardHandlerErrorRatioHigh",
      "SwitchyardHandlerNotReady",
      "SwitchyardOneWayLatencyHigh",
      "SwitchyardProducerErrorRatioHigh",
      "SwitchyardWorkQueueBacklogGrowing",
    ]);
    for (const alert of alerts) {
      expect(alert.for, alert.alert).toMatch(/^\d+[smh]$/);
      expect(["critical", "warning", "info"], alert.alert).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary, alert.alert).toBeTruthy();
      // A description that says what to look at, not just what fired.
      expect(alert.annotations?.description?.length ?? 0, alert.alert).toBeGreaterThan(120);
    }
  });

  it("unit-tests every alert both firing and quiet", () => {
    const suite = parse(readFileSync(PROMTOOL_TESTS, "utf8")) as {
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
    };
    const cases = suite.tests.flatMap((test) => test.alert_rule_test ?? []);
    for (const alert of alerts) {
      const mine = cases.filter((entry) => entry.alertname === alert.alert);
      expect(mine.some((entry) => (entry.exp_alerts ?? []).length > 0), `${alert.alert} fires`).toBe(true);
      expect(mine.some((entry) => (entry.exp_alerts ?? []).length === 0), `${alert.alert} stays quiet`).toBe(true);
    }
  });

  it("names recording rules level:metric:operations", () => {
    for (const rule of rules.filter((entry) => entry.record)) {
      expect(rule.record).toMatch(/^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/);
    }
  });

  it("documents every recorded series in docs/metrics.md, and reads only documented metrics", () => {
    const documented = documentedMetrics();
    const recorded = new Set(rules.flatMap((rule) => (rule.record ? [rule.record] : [])));
    const documentedRecorded = [...documented.keys()].filter((name) => name.includes(":"));
    expect(documentedRecorded.sort()).toEqual([...recorded].sort());
    for (const rule of rules) {
      for (const selector of vectorSelectors(rule.expr)) {
        const name = metricName(selector);
        const known = isDocumented(name, documented);
        expect(known, `${rule.record ?? rule.alert}: ${name}`).toBe(true);
      }
    }
  });
});
