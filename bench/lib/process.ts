import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readFileSync, type WriteStream } from "node:fs";
import { availableParallelism } from "node:os";
import { createInterface } from "node:readline";

/** Kernel clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Longest a bench process may take to start, or to answer one command. */
const START_TIMEOUT_MS = 60_000;
const ANSWER_TIMEOUT_MS = 120_000;

/**
 * The CPU a bench process is pinned to: the measured process gets core 0 and the load
 * (generator, reference peer) core 1, so the two never take each other's time. On a
 * one-core machine nothing is pinned.
 */
export function pinnedTo(role: "measured" | "load"): string[] {
  if (availableParallelism() < 2) return [];
  return ["taskset", "-c", role === "measured" ? "0" : "1"];
}

/** CPU time a process has used so far, user plus system, in microseconds, from /proc. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1_000_000) / CLOCK_TICKS_PER_SECOND;
}

/** Resident set size of a process now, in bytes, from /proc. */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

/**
 * A bench process (a file under bench/ speaking lib/child.ts's line protocol), pinned
 * with taskset. Its stderr goes to the run's log.
 */
export class BenchProcess {
  readonly name: string;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #answers: Array<(line: string) => void> = [];
  readonly #exited: Promise<void>;
  #info: Record<string, string> = {};

  private constructor(name: string, child: ChildProcessWithoutNullStreams) {
    this.name = name;
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  /** Starts `file` (relative to bench/) and resolves once it says it is ready. */
  static async start(name: string, file: string, args: string[], role: "measured" | "load", log: WriteStream): Promise<BenchProcess> {
    const path = new URL(`../${file}`, import.meta.url).pathname;
    const [command, ...rest] = [...pinnedTo(role), process.execPath, path, ...args];
    const child = spawn(command!, rest, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, NODE_ENV: "production" } });
    child.stderr.on("data", (chunk: Buffer) => log.write(`[${name}] ${chunk}`));
    const process_ = new BenchProcess(name, child);
    const lines = createInterface({ input: child.stdout });
    const ready = new Promise<Record<string, string>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before it was ready; see the run's log`));
      });
      lines.on("line", (line) => {
        const message = JSON.parse(line) as { ready?: Record<string, string> };
        if (message.ready) {
          clearTimeout(timer);
          resolve(message.ready);
        } else process_.#answers.shift()?.(line);
      });
    });
    try {
      process_.#info = await ready;
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
    return process_;
  }

  /** What the process announced when ready (its URLs). */
  get info(): Record<string, string> {
    return this.#info;
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** Sends one command and resolves with its answer; rejects on an error answer. */
  ask<T = Record<string, unknown>>(command: Record<string, unknown>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no answer to ${command.cmd} within ${ANSWER_TIMEOUT_MS} ms`)), ANSWER_TIMEOUT_MS);
      this.#answers.push((line) => {
        clearTimeout(timer);
        const answer = JSON.parse(line) as { ok?: T; error?: string };
        if (answer.error !== undefined) reject(new Error(`${this.name}: ${answer.error}`));
        else resolve(answer.ok as T);
      });
      this.#child.stdin.write(`${JSON.stringify(command)}\n`);
    });
  }

  /** Asks the process to exit; kills it if it has not within 10 s. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.stdin.end(`${JSON.stringify({ cmd: "exit" })}\n`);
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }
}
