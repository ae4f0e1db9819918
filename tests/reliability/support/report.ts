import { closeSync, mkdirSync, openSync, appendFileSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../support/process.ts";
import type { ScenarioFigures } from "./ledger.ts";

/** Column headings of the reliability table, in order. */
const HEADER =
  "| scenario | attempted | acknowledged | handled | dead-lettered | queued | lost | lost (broker counts) | duplicated | recovery s |\n" +
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";

/** Formats one row of the table. */
export function formatRow(figures: ScenarioFigures): string {
  const recovery = figures.recoverySeconds === undefined ? "–" : figures.recoverySeconds.toFixed(1);
  return (
    `| ${figures.scenario} | ${figures.attempted} | ${figures.acknowledged} | ${figures.handled} | ${figures.deadLettered} | ` +
    `${figures.queued} | ${figures.lost} | ${figures.lostByBrokerCounts} | ${figures.duplicated} | ${recovery} |\n`
  );
}

/**
 * When the vitest run began, from its main process's start time: test files run in
 * parallel worker processes, and this names the one results file they all append to.
 */
function runStamp(): string {
  try {
    const ticksPerSecond = 100; // USER_HZ on Linux
    const stat = readFileSync(`/proc/${process.ppid}/stat`, "utf8");
    const startTicks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    const bootSeconds = Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))![1]);
    const started = new Date((bootSeconds + startTicks / ticksPerSecond) * 1000);
    return started.toISOString().slice(0, 19).replaceAll(":", "-");
  } catch {
    return new Date().toISOString().slice(0, 19).replaceAll(":", "-");
  }
}

/** The Markdown file this vitest run's rows go to: `results/reliability/<run start>.md`. */
export const RESULTS_FILE = join(ROOT, "results", "reliability", `${runStamp()}.md`);

/**
 * Prints the scenario's row and appends it to {@link RESULTS_FILE}, writing the header
 * first if this is the run's first row. Rows arrive in the order scenarios finish.
 */
export function reportRow(figures: ScenarioFigures): void {
  const row = formatRow(figures);
  console.info(`reliability: ${row.trim()}`);
  mkdirSync(join(ROOT, "results", "reliability"), { recursive: true });
  try {
    // 'wx' creates the file only if it is new, so exactly one worker writes the header.
    const fd = openSync(RESULTS_FILE, "wx");
    writeSync(fd, HEADER);
    closeSync(fd);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  appendFileSync(RESULTS_FILE, row);
}
