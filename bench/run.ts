// npm run bench: the floor of each transport, measured side by side in one run. See
// docs/performance.md for what each row is and how to read the table.
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createTestVhost, type TestVhost } from "../tests/support/broker.ts";
import type { LoadResult } from "./lib/load.ts";
import { BenchProcess, cpuMicros, rssBytes } from "./lib/process.ts";
import { printMemory, printTable } from "./report.ts";
import { ROWS, type Row } from "./rows.ts";
import { ghz, wrk } from "./tools/generators.ts";

/** One row measured once: one payload size in one round. */
export interface Sample {
  group: string;
  row: string;
  payloadBytes: number;
  round: number;
  /** Messages that succeeded per second (AMQP: published, confirmed and consumed). */
  throughput: number;
  /** CPU of the measured process per successful message (AMQP: publisher + consumer). */
  cpuUsPerMessage: number;
  p50Us: number;
  p99Us: number;
  /** Resident memory of the measured process after the window (AMQP: publisher + consumer). */
  rssBytes: number;
  ok: number;
  failed: number;
  firstError?: string;
  /** AMQP rows: each side apart. */
  publisher?: { cpuUsPerMessage: number; rssBytes: number };
  consumer?: { cpuUsPerMessage: number; rssBytes: number };
}

const { values: flags } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    rounds: { type: "string" },
    seconds: { type: "string" },
    only: { type: "string" },
    payloads: { type: "string" },
    out: { type: "string" },
    profile: { type: "boolean", default: false },
  },
});
const smoke = flags.smoke;
const settings = {
  rounds: Number(flags.rounds ?? (smoke ? 1 : 3)),
  seconds: Number(flags.seconds ?? (smoke ? 1 : 5)),
  warmupSeconds: smoke ? 0 : 2,
  payloads: (flags.payloads ?? (smoke ? "64" : "64,16384")).split(",").map(Number),
  concurrency: 32,
  confirmWindow: 64,
  prefetch: 64,
  deadlineMs: 5_000,
};
const rows = ROWS.filter((row) => !flags.only || `${row.group} ${row.name}`.toLowerCase().includes(flags.only.toLowerCase()));

const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const outDir = new URL("../results/bench/", import.meta.url).pathname;
mkdirSync(outDir, { recursive: true });
const log = createWriteStream(`${outDir}${stamp}.log`);
const started = { at: new Date().toISOString(), loadAverage: loadavg() };

/** The processes each row drives, started once and kept for every round. */
interface Setup {
  measured: BenchProcess;
  /** AMQP: the consumer, also measured. */
  consumer?: BenchProcess;
  url: string;
}

const processes: BenchProcess[] = [];
const vhosts: TestVhost[] = [];
let stopping = false;

const profileDir = `${outDir}${stamp}-profiles`;

async function start(name: string, file: string, args: string[], role: "measured" | "load"): Promise<BenchProcess> {
  const child = await BenchProcess.start(name, file, args, role, log);
  processes.push(child);
  return child;
}

/** Asks `child` whether it is ready until it is, for at most 30 s. */
async function untilReady(child: BenchProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const answer = await child.ask<{ ready?: boolean }>({ cmd: "ready" });
    if (answer.ready !== false) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${child.name} not ready within 30 s`);
}

async function setUp(row: Row, targets: Map<string, BenchProcess>): Promise<Setup> {
  const name = `${row.group}: ${row.name}`;
  if (row.kind === "server") {
    const server = await start(name, row.server, row.serverArgs ?? [], "measured");
    return { measured: server, url: server.info[row.url]! };
  }
  if (row.kind === "client") {
    let target = targets.get(row.target);
    if (!target) {
      target = await start(`${row.group} target`, row.target, [], "load");
      targets.set(row.target, target);
    }
    const url = target.info[row.url]!;
    return { measured: await start(name, row.client, [`--url=${url}`], "measured"), url };
  }
  const vhost = await createTestVhost(`switchyard-bench-${row.vhost}`);
  vhosts.push(vhost);
  // The consumer first: it declares the topology the publisher's confirms depend on.
  const consumer = await start(`${name} consumer`, row.consumer, [`--url=${vhost.url}`, `--prefetch=${settings.prefetch}`], "load");
  await untilReady(consumer);
  const publisher = await start(`${name} publisher`, row.publisher, [`--url=${vhost.url}`, `--window=${settings.confirmWindow}`], "measured");
  await untilReady(publisher);
  return { measured: publisher, consumer, url: vhost.url };
}

/** Runs one window against `row` and measures it. */
async function measure(row: Row, setup: Setup, payloadBytes: number, seconds: number): Promise<Omit<Sample, "group" | "row" | "payloadBytes" | "round">> {
  const { measured, consumer } = setup;
  const load = { url: setup.url, payloadBytes, concurrency: settings.concurrency, seconds, deadlineMs: settings.deadlineMs };
  const cpuBefore = cpuMicros(measured.pid);
  if (row.kind !== "amqp") {
    const result: LoadResult =
      row.kind === "server"
        ? await (row.generator === "ghz" ? ghz(load) : wrk(load))
        : await measured.ask<LoadResult>({ cmd: "run", ...load });
    const cpu = cpuMicros(measured.pid) - cpuBefore;
    return {
      throughput: result.ok / result.seconds,
      cpuUsPerMessage: cpu / Math.max(1, result.ok),
      p50Us: result.p50Us,
      p99Us: result.p99Us,
      rssBytes: rssBytes(measured.pid),
      ok: result.ok,
      failed: result.failed,
      ...(result.firstError ? { firstError: result.firstError } : {}),
    };
  }
  const consumerCpuBefore = cpuMicros(consumer!.pid);
  const countBefore = (await consumer!.ask<{ count: number }>({ cmd: "count" })).count;
  const startedAt = performance.now();
  const result = await measured.ask<LoadResult>({ cmd: "run", seconds, window: settings.confirmWindow, payloadBytes, deadlineMs: settings.deadlineMs });
  const publisherCpu = cpuMicros(measured.pid) - cpuBefore;
  // End to end: the window ends when the consumer has taken every confirmed message.
  const drainBy = performance.now() + 60_000;
  let consumed = 0;
  while (performance.now() < drainBy) {
    consumed = (await consumer!.ask<{ count: number }>({ cmd: "count" })).count - countBefore;
    if (consumed >= result.ok) break;
    // Every poll costs the consumer a little CPU, counted against it: not too often.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const elapsed = (performance.now() - startedAt) / 1000;
  const consumerCpu = cpuMicros(consumer!.pid) - consumerCpuBefore;
  const publisher = { cpuUsPerMessage: publisherCpu / Math.max(1, result.ok), rssBytes: rssBytes(measured.pid) };
  const consumerSide = { cpuUsPerMessage: consumerCpu / Math.max(1, consumed), rssBytes: rssBytes(consumer!.pid) };
  const lost = result.ok - consumed;
  return {
    throughput: Math.min(consumed, result.ok) / elapsed,
    cpuUsPerMessage: publisher.cpuUsPerMessage + consumerSide.cpuUsPerMessage,
    p50Us: result.p50Us,
    p99Us: result.p99Us,
    rssBytes: publisher.rssBytes + consumerSide.rssBytes,
    ok: Math.min(consumed, result.ok),
    failed: result.failed + Math.max(0, lost),
    publisher,
    consumer: consumerSide,
    ...(result.firstError ? { firstError: result.firstError } : lost > 0 ? { firstError: `${lost} confirmed but not consumed within 60 s` } : {}),
  };
}

async function stopAll(): Promise<void> {
  await Promise.allSettled(processes.map((child) => child.stop()));
  await Promise.allSettled(vhosts.map((vhost) => vhost.delete()));
}

process.once("SIGINT", () => {
  stopping = true;
  process.stderr.write("\nstopping after the window in progress…\n");
});

const samples: Sample[] = [];
/** Resident memory of each row's measured process(es) once started, before any load. */
const idle: Array<{ group: string; row: string; rssBytes: number }> = [];
try {
  process.stderr.write(`bench: ${rows.length} rows × ${settings.payloads.length} payloads × ${settings.rounds} rounds of ${settings.seconds} s; log in results/bench/${stamp}.log\n`);
  const targets = new Map<string, BenchProcess>();
  const setups = new Map<Row, Setup>();
  for (const row of rows) setups.set(row, await setUp(row, targets));
  for (const [row, setup] of setups) {
    const measured = [setup.measured, setup.consumer].filter((child) => child !== undefined);
    idle.push({ group: row.group, row: row.name, rssBytes: measured.reduce((sum, child) => sum + rssBytes(child.pid), 0) });
  }
  if (settings.warmupSeconds > 0) {
    process.stderr.write("warming up…\n");
    for (const row of rows) for (const payloadBytes of settings.payloads) await measure(row, setups.get(row)!, payloadBytes, settings.warmupSeconds);
  }
  // Interleaved: every row once per round, so a noisy minute hits all rows alike.
  for (let round = 1; round <= settings.rounds && !stopping; round++) {
    for (const payloadBytes of settings.payloads) {
      for (const row of rows) {
        if (stopping) break;
        let sample: Sample;
        // With --profile, round 1's windows are profiled in every measured process.
        const profiled = flags.profile && round === 1 ? [setups.get(row)!.measured, setups.get(row)!.consumer].filter((p) => p !== undefined) : [];
        try {
          for (const child of profiled) await child.ask({ cmd: "profile:start" });
          sample = { group: row.group, row: row.name, payloadBytes, round, ...(await measure(row, setups.get(row)!, payloadBytes, settings.seconds)) };
          for (const child of profiled) {
            const slug = `${child.name}-${payloadBytes}`.toLowerCase().replace(/[^a-z0-9]+/g, "-");
            mkdirSync(profileDir, { recursive: true });
            await child.ask({ cmd: "profile:stop", path: `${profileDir}/${slug}.cpuprofile` });
          }
        } catch (error) {
          // One broken row must not hide the others; the run still ends in failure.
          const nothing = { throughput: 0, cpuUsPerMessage: Number.NaN, p50Us: Number.NaN, p99Us: Number.NaN, rssBytes: Number.NaN, ok: 0, failed: 1 };
          sample = { group: row.group, row: row.name, payloadBytes, round, ...nothing, firstError: String((error as Error).message ?? error) };
        }
        samples.push(sample);
        process.stderr.write(`round ${round} ${payloadBytes} B ${row.group}: ${row.name}: ${Math.round(sample.throughput)} msg/s, ${sample.cpuUsPerMessage.toFixed(0)} µs/msg${sample.failed ? `, ${sample.failed} failed (${sample.firstError})` : ""}\n`);
      }
    }
  }
} finally {
  await stopAll();
  log.end();
}

const finished = { at: new Date().toISOString(), loadAverage: loadavg() };
const report = { started, finished, node: process.version, settings, rows, samples, idle };
const jsonPath = flags.out ?? `${outDir}${stamp}.json`;
writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
printTable(report);
printMemory(report);
if (flags.profile) console.log(`CPU profiles: ${profileDir} (summarise with node bench/tools/top-frames.ts <file>)`);
const broken = samples.filter((sample) => sample.ok === 0 || sample.failed > 0);
if (broken.length > 0) {
  console.error(`\n${broken.length} windows had failures or no successful message; see the ⚠ rows and results/bench/${stamp}.log`);
  process.exitCode = 1;
}
console.log(`\nJSON: ${jsonPath} · load average ${started.loadAverage.map((n) => n.toFixed(2)).join(" ")} → ${finished.loadAverage.map((n) => n.toFixed(2)).join(" ")}`);
