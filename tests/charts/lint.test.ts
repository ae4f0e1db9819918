import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CHART, HELMS, ofKind, render, run } from "./support.ts";

// Every values file a user or the tests install with: the chart's defaults, each file
// under ci/ (helm's own convention for lint values) and the kind files skaffold uses.
const VALUES_SETS: Array<{ name: string; files: string[] }> = [
  { name: "defaults", files: [] },
  ...readdirSync(join(CHART, "ci"))
    .filter((file) => file.endsWith(".yaml"))
    .sort()
    .map((file) => ({ name: `ci/${file}`, files: [join(CHART, "ci", file)] })),
  { name: "values-kind.yaml", files: [join(CHART, "values-kind.yaml")] },
  {
    name: "values-kind.yaml + values-kind-monitoring.yaml",
    files: [join(CHART, "values-kind.yaml"), join(CHART, "values-kind-monitoring.yaml")],
  },
];

describe.each(HELMS)("$name lint --strict", ({ bin }) => {
  it.each(VALUES_SETS)("passes with $name", async ({ files }) => {
    const result = await run(bin, ["lint", "--strict", CHART, ...files.flatMap((file) => ["--values", file])]);
    expect(result.stdout + result.stderr, "helm lint output").toContain("1 chart(s) linted, 0 chart(s) failed");
    expect(result.code).toBe(0);
  });
});

describe.each(HELMS)("$name package", ({ bin }) => {
  it("packs the chart with its dashboards and rules, without ci/, and the package renders", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchyard-package-"));
    try {
      const packed = await run(bin, ["package", CHART, "--destination", dir]);
      expect(packed.code, packed.stderr).toBe(0);
      const archive = join(dir, readdirSync(dir).find((file) => file.endsWith(".tgz"))!);
      const listing = await run("tar", ["-tzf", archive]);
      const files = listing.stdout.split("\n");
      expect(files).toContain("switchyard/values.schema.json");
      expect(files).toContain("switchyard/files/rules/switchyard.rules.yaml");
      expect(files.some((file) => /^switchyard\/files\/dashboards\/.+\.json$/.test(file))).toBe(true);
      expect(files.filter((file) => file.startsWith("switchyard/ci/"))).toEqual([]);
      const { objects } = await render(bin, { chart: archive, files: ["charts/switchyard/ci/monitoring-values.yaml"] });
      expect(ofKind(objects, "PrometheusRule")).toHaveLength(1);
      expect(ofKind(objects, "ConfigMap").filter((c) => c.metadata.labels?.grafana_dashboard === "1")).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
