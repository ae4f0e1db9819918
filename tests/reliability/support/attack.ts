import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./attacker.ts", import.meta.url));

/** An attacker process (see attacker.ts): its report, and a way to end it. */
export interface Attack<Report> {
  /** The attacker's one-line JSON report: when the attack is done, or in place (slow connections). */
  report: Promise<Report>;
  /** Ends the attack (closes its stdin, which releases held connections) and waits for the exit; SIGKILL after 10 s. */
  end(): Promise<void>;
}

/** Starts `node attacker.ts <args>` with the test's own Node. */
export function startAttack<Report>(args: readonly string[]): Attack<Report> {
  const child = spawn(process.execPath, [SCRIPT, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let output = "";
  const report = new Promise<Report>((resolve, reject) => {
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
      const newline = output.indexOf("\n");
      if (newline >= 0) resolve(JSON.parse(output.slice(0, newline)) as Report);
    });
    void exited.then(() => reject(new Error(`attacker ${args[0]} exited without a report`)));
  });
  report.catch(() => undefined);
  return {
    report,
    end: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
