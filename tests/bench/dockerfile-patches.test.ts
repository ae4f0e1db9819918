import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const ROOT = new URL("../../", import.meta.url).pathname;

// The images must run the same dependencies as development and tests: every file in
// patches/ applied at build time, as the root postinstall applies them at `npm install`.
// A static reading of each Dockerfile (no engine here), so an edit that drops the step,
// copies only some patches, or stops failing on a patch that no longer applies fails.

const PATCHES = readdirSync(`${ROOT}patches`).filter((name) => name.endsWith(".patch"));
const DOCKERFILES = readdirSync(`${ROOT}services`, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => `services/${entry.name}/Dockerfile`)
  .filter((path) => {
    try {
      readFileSync(`${ROOT}${path}`);
      return true;
    } catch {
      return false;
    }
  });

/** One instruction of a Dockerfile, continuation lines joined, comments dropped. */
interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  name: string | undefined;
  instructions: Instruction[];
}

function parseStages(text: string): Stage[] {
  const lines = text.split("\n").filter((line) => !/^\s*#/.test(line));
  const joined = lines.join("\n").replace(/\\\n/g, " ");
  const stages: Stage[] = [];
  for (const line of joined.split("\n")) {
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const keyword = match[1]!.toUpperCase();
    const args = match[2]!.trim();
    if (keyword === "FROM") {
      stages.push({ name: /\sAS\s+(\S+)/i.exec(args)?.[1], instructions: [] });
      continue;
    }
    stages.at(-1)?.instructions.push({ keyword, args });
  }
  return stages;
}

/** The patch files a COPY instruction brings into the stage (all for the directory). */
function patchesCopied(instruction: Instruction): string[] {
  if (instruction.keyword !== "COPY" || instruction.args.startsWith("--from")) return [];
  const parts = instruction.args.split(/\s+/).filter((part) => !part.startsWith("--"));
  const sources = parts.slice(0, -1).map((source) => source.replace(/^\.\//, "").replace(/\/$/, ""));
  if (sources.includes("patches")) return PATCHES;
  return PATCHES.filter((file) => sources.includes(`patches/${file}`));
}

/** Whether a .dockerignore pattern (Go filepath.Match syntax plus `**`) excludes `path`. */
function ignores(pattern: string, path: string): boolean {
  const source = pattern
    .replace(/^\//, "")
    .replace(/[.+^${}()|[\]]/g, "\\$&")
    .replace(/\*\*\/?/g, "\u0000")
    .replace(/\*/g, "[^/]*")
    .replace(/\?/g, "[^/]")
    .replace(/\u0000/g, "(?:.*/)?");
  // A pattern matching a directory excludes everything under it.
  return new RegExp(`^${source}(?:/.*)?$`).test(path);
}

describe("the images apply patches/", () => {
  it("finds the Dockerfiles and the patches it checks", () => {
    expect(DOCKERFILES).toEqual(expect.arrayContaining(["services/handler/Dockerfile", "services/producer/Dockerfile"]));
    expect(PATCHES.length).toBeGreaterThan(0);
  });

  it(".dockerignore sends patches/ to the build", () => {
    const patterns = readFileSync(`${ROOT}.dockerignore`, "utf8")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
    for (const file of PATCHES) {
      // The last matching pattern decides; `!` re-includes.
      let excluded = false;
      for (const pattern of patterns) {
        const negated = pattern.startsWith("!");
        if (ignores(negated ? pattern.slice(1) : pattern, `patches/${file}`)) excluded = !negated;
      }
      expect({ file, excluded }).toEqual({ file, excluded: false });
    }
  });

  for (const path of DOCKERFILES) {
    describe(path, () => {
      const stages = parseStages(readFileSync(`${ROOT}${path}`, "utf8"));
      const final = stages.at(-1)!;
      // The stage whose /app the final image is made of.
      const source = /--from=(\S+)/.exec(final.instructions.find((instruction) => instruction.keyword === "COPY" && /--from=/.test(instruction.args))?.args ?? "")?.[1];
      const build = stages.find((stage) => stage.name === source);

      it("copies its application from a build stage", () => {
        expect(build, `${path}: COPY --from=<stage> in the final stage`).toBeDefined();
      });

      it("copies every file in patches/ into that stage after installing dependencies", () => {
        const instructions = build!.instructions;
        const install = instructions.findIndex((instruction) => instruction.keyword === "RUN" && /\bnpm ci\b/.test(instruction.args));
        expect(install, `${path}: RUN npm ci`).toBeGreaterThanOrEqual(0);
        const copied = new Set(instructions.slice(install + 1).flatMap(patchesCopied));
        expect(PATCHES.filter((file) => !copied.has(file))).toEqual([]);
      });

      it("runs patch-package --error-on-fail after copying them, with the lockfile's version", () => {
        const instructions = build!.instructions;
        const lastCopy = instructions.findLastIndex((instruction) => patchesCopied(instruction).length > 0);
        const apply = instructions.findIndex(
          (instruction, index) => index > lastCopy && instruction.keyword === "RUN" && /patch-package/.test(instruction.args) && /--error-on-fail/.test(instruction.args),
        );
        expect(apply, `${path}: RUN … patch-package … --error-on-fail after COPY patches`).toBeGreaterThan(lastCopy);
        const pinned = instructions.find((instruction) => instruction.keyword === "ARG" && instruction.args.startsWith("PATCH_PACKAGE_VERSION="));
        const lock = JSON.parse(readFileSync(`${ROOT}package-lock.json`, "utf8")) as { packages: Record<string, { version: string }> };
        expect(pinned?.args).toBe(`PATCH_PACKAGE_VERSION=${lock.packages["node_modules/patch-package"]!.version}`);
        expect(instructions[apply]!.args).toContain("patch-package@${PATCH_PACKAGE_VERSION}");
      });
    });
  }
});
