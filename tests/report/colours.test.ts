// The report draws each transport and side in the colour the Grafana dashboard gives it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GRAFANA_COLOURS, SERIES_COLOUR_NAMES, seriesColour } from "../../tools/compare/src/html/colours.ts";
import { ROOT } from "../support/process.ts";

/** Every `byRegexp` colour override in the dashboard: series pattern → Grafana colour name. */
function dashboardColours(): Map<string, string> {
  const colours = new Map<string, string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== "object" || node === null) return;
    const override = node as { matcher?: { id?: string; options?: string }; properties?: Array<{ id?: string; value?: { fixedColor?: string } }> };
    const colour = override.properties?.find((property) => property.id === "color")?.value?.fixedColor;
    if (override.matcher?.id === "byRegexp" && override.matcher.options && colour) colours.set(override.matcher.options, colour);
    Object.values(node).forEach(visit);
  };
  visit(JSON.parse(readFileSync(join(ROOT, "charts/switchyard/files/dashboards/switchyard.json"), "utf8")));
  return colours;
}

describe("report colours", () => {
  it("match the dashboard's override for every series name, and the dashboard has no other", () => {
    const dashboard = dashboardColours();
    const named = [...dashboard].flatMap(([pattern, colour]) => {
      const match = /^(\w+)\( \.\*\)\?$/.exec(pattern);
      return match ? [[match[1]!, colour] as const] : [];
    });
    expect(Object.fromEntries(named)).toEqual(SERIES_COLOUR_NAMES);
    for (const [name, colour] of named) expect(seriesColour(name)).toBe(GRAFANA_COLOURS[colour]);
  });
});
