import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "../support/process.ts";
import { CHART } from "./support.ts";

const docs = readFileSync(join(ROOT, "docs/kubernetes.md"), "utf8");

/** Keys whose value is a free-form map: documented as a whole. */
const MAPS = new Set(["env", "podAnnotations", "podLabels", "nodeSelector", "affinity", "labels"]);

/** Dotted paths of every leaf of values.yaml (scalars, lists, free-form maps). */
function leaves(node: unknown, path: string[] = []): string[] {
  if (node && typeof node === "object" && !Array.isArray(node) && !MAPS.has(path.at(-1) ?? "") && Object.keys(node).length > 0) {
    return Object.entries(node).flatMap(([key, value]) => leaves(value, [...path, key]));
  }
  return [path.join(".")];
}

describe("docs/kubernetes.md", () => {
  it("documents every key of values.yaml in its values reference", () => {
    const values = parse(readFileSync(join(CHART, "values.yaml"), "utf8"));
    const missing = leaves(values).filter((path) => {
      if (docs.includes(`\`${path}\``)) return false;
      const parts = path.split(".");
      return !parts.some((_, depth) => depth > 0 && docs.includes(`\`${parts.slice(0, depth).join(".")}.*\``));
    });
    expect(missing, "values without a row in the values reference").toEqual([]);
  });

  it("names only files that exist", () => {
    const paths = [...docs.matchAll(/`((?:charts|services|tests|docs|scripts)\/[\w./-]+|[\w-]+\.yaml|\.dockerignore)`/g)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThan(10);
    for (const path of paths.filter((p) => !p.includes("*"))) {
      const candidates = [join(ROOT, path), join(CHART, path), join(ROOT, "docs", path)];
      expect(candidates.some((candidate) => existsSync(candidate)), path).toBe(true);
    }
  });
});
