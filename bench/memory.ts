// npm run bench:memory: resident memory of the handler and the producer, each started as
// `npm start` starts it (node services/<name>/src/main.ts, compare's environment), idle,
// under open-loop load at fixed rates per transport, and over a steady run whose growth
// slope says whether memory keeps rising. See docs/performance.md ("Memory").
import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ProducerService, RunState, type PhaseResult } from "@switchyard/contracts";
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createTestVhost, type TestVhost } from "../tests/support/broker.ts";
import { rssBytes } from "./lib/process.ts";
import { growth, type Growth, type RssSample } from "./memory/growth.ts";
import { producerEnv, startService, type ServiceProcess } from "./memory/services.ts";

const { values: flags } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    rates: { type: "string" },
    seconds: { type: "string" },
    transports: { type: "string" },
    "steady-seconds": { type: "string" },
    "steady-rate": { type: "string" },
    "sample-seconds": { type: "string" },
    "steady-only": { type: "boolean", default: false },
    payload: { type: "string" },
    out: { type: "string" },
  },
});
const smoke = flags.smoke;
const settings = {
  transports: (flags.transports ?? "grpc,connect,amqp").split(","),
  rates: (flags.rates ?? (smoke ? "100" : "1000,5000")).split(",").map(Number),
  /** Length of each fixed-rate step. */
  seconds: Number(flags.seconds ?? (smoke ? 2 : 20)),
  /** The steady run: every transport at once, at steadyRate ÷ transports each. */
  steadySeconds: Number(flags["steady-seconds"] ?? (smoke ? 4 : 300)),
  steadyRate: Number(flags["steady-rate"] ?? (smoke ? 60 : 1000)),
  sampleSeconds: Number(flags["sample-seconds"] ?? (smoke ? 0.5 : 5)),
  payloadBytes: Number(flags.payload ?? 64),
  /** Seconds left to settle after start-up before idle is read. */
  idleSettleSeconds: smoke ? 1 : 5,
};
for (const [name, value] of Object.entries(settings)) {
  if (typeof value === "number" && !(value > 0) && name !== "payloadBytes") throw new Error(`--${name}: expected a positive number`);
}
// The steady run's growth is fitted over its last three minutes, or its second half when shorter.
const fitSeconds = Math.min(180, settings.steadySeconds / 2);

const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const outDir = new URL("../results/bench/", import.meta.url).pathname;
mkdirSync(outDir, { recursive: true });
const log = createWriteStream(`${outDir}memory-${stamp}.log`);
const started = { at: new Date().toISOString(), loadAverage: loadavg() };
const MIB = 1024 * 1024;
const mib = (bytes: number) => (Number.isFinite(bytes) ? (bytes / MIB).toFixed(0) : "–");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const note = (line: string) => process.stderr.write(`${line}\n`);

/** One fixed-rate step: a producer run of one transport at `rate`. */
interface Step {
  transport: string;
  rate: number;
  reached: number;
  sent: number;
  notSent: number;
  errors: number;
  /** The run's outcome counts (`ok`, `deadline_exceeded`, `unavailable`, …). */
  outcomes: Record<string, number>;
  handler: { maxRssBytes: number; endRssBytes: number };
  producer: { maxRssBytes: number; endRssBytes: number };
  note?: string;
}

function seconds(value: number) {
  return create(DurationSchema, { seconds: BigInt(Math.floor(value)), nanos: Math.round((value % 1) * 1e9) });
}

/** Runs one producer run of `transport` at `rate` for `settings.seconds`, sampling both processes' RSS. */
async function step(producer: ServiceProcess, handler: ServiceProcess, transport: string, rate: number): Promise<Step> {
  const client = createClient(ProducerService, createConnectTransport({ baseUrl: producer.httpUrl, httpVersion: "1.1" }));
  const { run } = await client.startRun({
    spec: {
      transports: [transport],
      payloadBytes: [settings.payloadBytes],
      load: { case: "rate", value: rate },
      end: { case: "duration", value: seconds(settings.seconds) },
      warmup: seconds(0),
    },
  });
  const max = { handler: 0, producer: 0 };
  const deadline = Date.now() + (settings.seconds + 120) * 1000;
  let phase: PhaseResult | undefined;
  let polled = 0;
  for (;;) {
    max.handler = Math.max(max.handler, rssBytes(handler.pid));
    max.producer = Math.max(max.producer, rssBytes(producer.pid));
    // RSS every 250 ms; the run's state once a second (each poll costs the producer a little).
    if (Date.now() - polled >= 1_000) {
      polled = Date.now();
      const current = (await client.getRun({ id: run!.id })).run!;
      phase = current.phases[0];
      if (current.state !== RunState.RUNNING) break;
    }
    if (Date.now() > deadline) {
      await client.stopRun({ id: run!.id });
      break;
    }
    await sleep(250);
  }
  return {
    transport,
    rate,
    reached: phase?.throughput ?? 0,
    sent: Number(phase?.sent ?? 0),
    notSent: Number(phase?.notSent ?? 0),
    errors: Number(phase?.errors ?? 0),
    outcomes: Object.fromEntries(Object.entries(phase?.outcomes ?? {}).map(([outcome, count]) => [outcome, Number(count)])),
    handler: { maxRssBytes: max.handler, endRssBytes: rssBytes(handler.pid) },
    producer: { maxRssBytes: max.producer, endRssBytes: rssBytes(producer.pid) },
    ...(phase?.notes.length ? { note: phase.notes.join("; ") } : {}),
  };
}

const services: ServiceProcess[] = [];
const vhosts: TestVhost[] = [];
/** The first pair's idle RSS (every step's own is in its row). */
const idle: { handler?: number; producer?: number } = {};
const steps: Array<Step & { idle: { handler: number; producer: number } }> = [];
const steady: Record<"handler" | "producer", RssSample[]> = { handler: [], producer: [] };
/** V8's used heap of each service over the steady run (`nodejs_heap_size_used_bytes`), in the same shape. */
const heap: Record<"handler" | "producer", RssSample[]> = { handler: [], producer: [] };
let steadySent: { transport: string; perSecond: number }[] = [];
try {
  note(`bench:memory: ${settings.transports.join(", ")} at ${settings.rates.join(", ")} msg/s for ${settings.seconds} s each, then ${settings.steadySeconds} s steady at ${settings.steadyRate} msg/s; log in results/bench/memory-${stamp}.log`);
  /**
   * A fresh handler and producer (`extra` for the producer) on a vhost of their own, so
   * no backlog of an earlier step reaches them; both ready and settled, their RSS then is idle.
   */
  const startPair = async (label: string, extra: Record<string, string> = {}) => {
    const vhost = await createTestVhost("switchyard-bench-memory");
    vhosts.push(vhost);
    const handler = await startService("handler", `handler (${label})`, { AMQP_URL: vhost.url, HANDLER_ID: "bench-memory" }, log);
    services.push(handler);
    const producer = await startService("producer", `producer (${label})`, { ...producerEnv(handler, vhost.url), ...extra }, log);
    services.push(producer);
    await sleep(settings.idleSettleSeconds * 1000);
    return { handler, producer, idle: { handler: rssBytes(handler.pid), producer: rssBytes(producer.pid) } };
  };
  const stopPair = async (pair: { handler: ServiceProcess; producer: ServiceProcess }) => {
    // The producer first: it may still be sending to the handler.
    for (const service of [pair.producer, pair.handler]) {
      await service.stop();
      services.splice(services.indexOf(service), 1);
    }
  };

  // Each step on a fresh pair of processes: V8 keeps the heap a step grew, so a shared
  // process would carry one transport's peak into the next one's figure.
  for (const rate of flags["steady-only"] ? [] : settings.rates) {
    for (const transport of settings.transports) {
      const pair = await startPair(`${transport} ${rate}/s`);
      idle.handler ??= pair.idle.handler;
      idle.producer ??= pair.idle.producer;
      const result = { ...(await step(pair.producer, pair.handler, transport, rate)), idle: pair.idle };
      await stopPair(pair);
      steps.push(result);
      note(`${transport} at ${rate} msg/s: reached ${result.reached.toFixed(0)} msg/s; handler ${mib(result.handler.maxRssBytes)} MiB, producer ${mib(result.producer.maxRssBytes)} MiB at most (idle ${mib(pair.idle.handler)}, ${mib(pair.idle.producer)})`);
    }
  }

  // The steady run: the producer's background load (BACKGROUND_RATE_*), every transport
  // at once from start-up until stopped, as a cluster runs it, on a fresh pair.
  const perTransport = Math.max(1, Math.round(settings.steadyRate / settings.transports.length));
  const rates = Object.fromEntries(["grpc", "connect", "amqp"].map((t) => [`BACKGROUND_RATE_${t.toUpperCase()}`, String(settings.transports.includes(t) ? perTransport : 0)]));
  const { handler, producer } = await startPair("steady", { ...rates, BACKGROUND_PAYLOAD_BYTES: String(settings.payloadBytes) });
  steadySent = settings.transports.map((transport) => ({ transport, perSecond: perTransport }));
  note(`steady: ${settings.steadySeconds} s, ${perTransport} msg/s on each of ${settings.transports.join(", ")}`);
  const begin = performance.now();
  // Bounded by the run's length: one sample per interval.
  for (let i = 0; i <= Math.ceil(settings.steadySeconds / settings.sampleSeconds); i++) {
    const at = (performance.now() - begin) / 1000;
    if (at > settings.steadySeconds + settings.sampleSeconds) break;
    steady.handler.push({ seconds: at, rssBytes: rssBytes(handler.pid) });
    steady.producer.push({ seconds: at, rssBytes: rssBytes(producer.pid) });
    // RSS alone cannot tell a leak from V8 growing its old generation in steps: the used
    // JS heap, from each service's own /metrics, can.
    const [handlerHeap, producerHeap] = await Promise.all([heapUsed(handler), heapUsed(producer)]);
    heap.handler.push({ seconds: at, rssBytes: handlerHeap });
    heap.producer.push({ seconds: at, rssBytes: producerHeap });
    if (i % Math.max(1, Math.round(30 / settings.sampleSeconds)) === 0) {
      note(`steady ${at.toFixed(0)} s: handler ${mib(steady.handler.at(-1)!.rssBytes)} MiB, producer ${mib(steady.producer.at(-1)!.rssBytes)} MiB`);
    }
    const next = begin + (i + 1) * settings.sampleSeconds * 1000;
    await sleep(Math.max(0, next - performance.now()));
  }
} finally {
  // The producer first: it may still be sending to the handler.
  for (const service of [...services].reverse()) await service.stop().catch(() => undefined);
  await Promise.all(vhosts.map((vhost) => vhost.delete().catch(() => undefined)));
  log.end();
}

const growthOf = { handler: growth(steady.handler, fitSeconds), producer: growth(steady.producer, fitSeconds) };
const heapGrowthOf = { handler: growth(heap.handler.filter((s) => Number.isFinite(s.rssBytes)), fitSeconds), producer: growth(heap.producer.filter((s) => Number.isFinite(s.rssBytes)), fitSeconds) };
const finished = { at: new Date().toISOString(), loadAverage: loadavg() };
const report = { started, finished, node: process.version, settings, fitSeconds, idle, steps, steady: { sent: steadySent, samples: steady, growth: growthOf, heap: { samples: heap, growth: heapGrowthOf } } };
const jsonPath = flags.out ?? `${outDir}memory-${stamp}.json`;
writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);

console.log(`\nResident memory (VmRSS, MiB) · payload ${settings.payloadBytes} B · open-loop producer runs of ${settings.seconds} s per step\n`);
console.log(`| service | idle |\n|---|---|\n| handler | ${mib(idle.handler ?? Number.NaN)} |\n| producer | ${mib(idle.producer ?? Number.NaN)} |\n`);
console.log("| transport | target msg/s | reached msg/s | not sent | outcomes | handler idle → max | producer idle → max |\n|---|---|---|---|---|---|---|");
for (const s of steps) {
  const reached = s.reached < 0.95 * s.rate ? `${s.reached.toFixed(0)} ⚠ short of the target` : s.reached.toFixed(0);
  console.log(`| ${s.transport} | ${s.rate} | ${reached} | ${s.notSent} | ${Object.entries(s.outcomes).map(([outcome, count]) => `${outcome} ${count}`).join(", ") || "–"} | ${mib(s.idle.handler)} → ${mib(s.handler.maxRssBytes)} | ${mib(s.idle.producer)} → ${mib(s.producer.maxRssBytes)} |`);
}
console.log(`\nSteady run: ${settings.steadySeconds} s, ${steadySent.map((s) => `${s.transport} ${s.perSecond}/s`).join(" + ")} (the producer's background load); RSS every ${settings.sampleSeconds} s, MiB:\n`);
const every = Math.max(1, Math.round(Math.max(settings.steadySeconds / 10, settings.sampleSeconds) / settings.sampleSeconds));
console.log("| s | handler RSS | handler JS heap used | producer RSS | producer JS heap used |\n|---|---|---|---|---|");
steady.handler.forEach((sample, index) => {
  if (index % every === 0 || index === steady.handler.length - 1) {
    console.log(`| ${sample.seconds.toFixed(settings.sampleSeconds < 1 ? 1 : 0)} | ${mib(sample.rssBytes)} | ${mib(heap.handler[index]?.rssBytes ?? Number.NaN)} | ${mib(steady.producer[index]!.rssBytes)} | ${mib(heap.producer[index]?.rssBytes ?? Number.NaN)} |`);
  }
});
console.log("");
for (const [service, fit] of Object.entries(growthOf) as Array<[string, Growth | undefined]>) {
  if (!fit) {
    console.log(`verdict ${service}: unknown (too few samples in the last ${fitSeconds} s)`);
    continue;
  }
  const sign = fit.mibPerMinute >= 0 ? "+" : "";
  console.log(`verdict ${service}: ${fit.verdict} — ${sign}${fit.mibPerMinute.toFixed(2)} MiB/min over ${fit.fromSeconds.toFixed(0)}–${fit.toSeconds.toFixed(0)} s (fitted ${sign}${fit.riseMib.toFixed(1)} MiB on a mean of ${fit.meanMib.toFixed(0)} MiB; steady = under 2% of the mean)`);
}
for (const [service, fit] of Object.entries(heapGrowthOf) as Array<[string, Growth | undefined]>) {
  if (!fit) continue;
  const sign = fit.mibPerMinute >= 0 ? "+" : "";
  console.log(`JS heap ${service}: ${fit.verdict} — ${sign}${fit.mibPerMinute.toFixed(2)} MiB/min over ${fit.fromSeconds.toFixed(0)}–${fit.toSeconds.toFixed(0)} s (fitted ${sign}${fit.riseMib.toFixed(1)} MiB on a mean of ${fit.meanMib.toFixed(0)} MiB)`);
}
console.log(`\nJSON: ${jsonPath} · load average ${started.loadAverage.map((n) => n.toFixed(2)).join(" ")} → ${finished.loadAverage.map((n) => n.toFixed(2)).join(" ")}`);


/** V8's used heap of `service` in bytes, from its /metrics; NaN when it does not answer in 2 s. */
async function heapUsed(service: ServiceProcess): Promise<number> {
  try {
    const response = await fetch(`${service.httpUrl}/metrics`, { signal: AbortSignal.timeout(2_000) });
    const match = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)/m.exec(await response.text());
    return match ? Number(match[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
