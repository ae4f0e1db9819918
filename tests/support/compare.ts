import { spawn } from "node:child_process";
import { ROOT } from "./process.ts";

/** What a finished `compare` process left behind. */
export interface CompareExit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `npm run compare -- args` as a user would (the CLI's entry with the tests' Node,
 * a minimal environment) to completion; killed with SIGKILL after `timeoutMs`, so a
 * hung run fails its test instead of outliving it.
 */
export function compare(args: string[], timeoutMs = 120_000): Promise<CompareExit> {
  const child = spawn(process.execPath, ["tools/compare/src/cli.ts", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}
