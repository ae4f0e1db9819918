import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { handlerEnvSchema } from "../../services/handler/src/config.ts";
import { ROOT } from "../support/process.ts";

const readme = readFileSync(join(ROOT, "README.md"), "utf8");

/** The first column of the Markdown table under `heading`. */
function tableKeys(heading: string): string[] {
  const section = readme.split(`## ${heading}\n`)[1]?.split("\n## ")[0] ?? "";
  return [...section.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((match) => match[1]!);
}

describe("README", () => {
  it("documents exactly the variables the handler reads", () => {
    expect(tableKeys("Handler configuration").sort()).toEqual(Object.keys(handlerEnvSchema.shape).sort());
  });

  it("gives the quick start as the npm scripts CI runs", () => {
    const packageJson = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(readme).toMatch(/^npm start /m);
    expect(readme).toMatch(/^npm test /m);
    expect(packageJson.scripts.start).toBeDefined();
    expect(readFileSync(join(ROOT, ".ci/run"), "utf8")).toMatch(/^npm test$/m);
  });
});
