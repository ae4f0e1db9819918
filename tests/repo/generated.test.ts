import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../support/process.ts";

const run = promisify(execFile);
const BIN = join(ROOT, "node_modules", ".bin");
const env = { ...process.env, PATH: `${BIN}:${process.env.PATH}` };

function files(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else found.set(relative(dir, path), readFileSync(path, "utf8"));
    }
  };
  walk(dir);
  return found;
}

describe("protobuf contracts", () => {
  const scratch = mkdtempSync(join(tmpdir(), "switchyard-gen-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("pass buf lint (STANDARD) and buf format", async () => {
    await expect(run(join(BIN, "buf"), ["lint"], { cwd: ROOT, env })).resolves.toBeDefined();
    await expect(run(join(BIN, "buf"), ["format", "--diff", "--exit-code"], { cwd: ROOT, env })).resolves.toBeDefined();
  });

  it("match the committed generated code (run `npm run generate` when this fails)", async () => {
    await run(join(BIN, "buf"), ["generate", "--output", scratch], { cwd: ROOT, env });
    const fresh = files(join(scratch, "packages/contracts/src/gen"));
    const committed = files(join(ROOT, "packages/contracts/src/gen"));
    expect([...committed.keys()].sort()).toEqual([...fresh.keys()].sort());
    for (const [path, text] of fresh) expect(committed.get(path), path).toBe(text);
  });
});

describe("TypeScript", () => {
  it("type-checks the whole tree under strict settings", async () => {
    const result = await run(join(BIN, "tsc"), ["-p", "tsconfig.json"], { cwd: ROOT, env }).catch(
      (error: { stdout: string }) => ({ stdout: error.stdout }),
    );
    expect(result.stdout).toBe("");
  }, 120_000);
});
