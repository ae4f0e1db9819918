import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CHART, HELMS, run } from "./support.ts";

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
