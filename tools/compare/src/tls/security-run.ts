// `compare --tls` / `--mtls`: the same phases cleartext and then secured, each against
// services started for that mode, reported side by side with the handshake each
// transport pays at the endpoints it used.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, relative } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { PhaseState, ProducerService, RunState, type Run } from "@switchyard/contracts";
import type { CompareOptions } from "../flags.ts";
import { FLAG_OF_FIELD } from "../flags.ts";
import { brokerVersion } from "../html/broker-version.ts";
import { writeHtmlReport } from "../html/write.ts";
import { ensureBroker, ROOT, startLocalServices, type LocalServices } from "../local.ts";
import { formatBytes, formatMs, jsonReport, markdownReport, runStateName, toRow, type ReportContext } from "../report.ts";
import { connectionsTo } from "./connections.ts";
import { measureHandshakes, type HandshakeFigures, type HandshakeTarget } from "./handshake.ts";
import { ensureLocalPki, type LocalPki } from "./local-pki.ts";
import { securityCosts, securityHtml, securityJson, securityMarkdown, securityTextTable, type ModeRun, type SecurityReport, type SecurityRow } from "./security-report.ts";
import { amqpsUrlOf, type SecurityMode } from "./service-env.ts";

/** Where `compare --tls` keeps its throwaway CA and certificates (git-ignored). */
export const LOCAL_PKI_DIR = join(ROOT, ".local", "tls");
/** Fresh connections timed per endpoint; the median is reported. */
const HANDSHAKE_SAMPLES = 50;
const AMQPS_PORT = 5671;

/** Turns on the local broker's TLS listener with the PKI's server certificate (scripts/ensure-rabbitmq-tls.sh). */
async function ensureBrokerTls(pki: LocalPki): Promise<void> {
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn("bash", [join(ROOT, "scripts/ensure-rabbitmq-tls.sh"), pki.server], { stdio: ["ignore", "inherit", "inherit"] });
    child.once("exit", resolve);
    child.once("error", () => resolve(1));
  });
  if (code !== 0) throw new Error(`scripts/ensure-rabbitmq-tls.sh failed (exit ${code})`);
}

/** What one mode's run produced. */
interface ModeResult {
  run: Run;
  rows: SecurityRow[];
  summary: ModeRun;
}

/** The endpoint each transport used in `mode`, as a client reaches it. */
function endpoints(services: LocalServices, mode: SecurityMode, pki: LocalPki, brokerPort: number): Record<string, HandshakeTarget> {
  const tls = (alpn: string[] | undefined): HandshakeTarget["tls"] =>
    mode === "cleartext"
      ? undefined
      : {
          ca: readFileSync(pki.caFile),
          alpn,
          ...(mode === "mtls" && { cert: readFileSync(join(pki.clients.producer, "tls.crt")), key: readFileSync(join(pki.clients.producer, "tls.key")) }),
        };
  const portOf = (url: string) => Number(new URL(url).port);
  return {
    grpc: { host: "127.0.0.1", port: portOf(services.handlerGrpcUrls[0]!), tls: tls(["h2"]) },
    // The producer's HTTPS agent offers no ALPN; neither does this.
    connect: { host: "127.0.0.1", port: portOf(services.handlerUrls[0]!), tls: tls(undefined) },
    amqp: { host: "127.0.0.1", port: brokerPort, tls: tls(undefined) },
  };
}

/** The most connections each transport holds while its phases measure, sampled on every progress update. */
class ConnectionSampler {
  readonly #most = new Map<string, number>();
  readonly #targets: Record<string, { ports: number[]; pids: number[] }>;

  constructor(services: LocalServices, brokerPort: number) {
    const { producer, handlers } = services.pids;
    const portOf = (url: string) => Number(new URL(url).port);
    this.#targets = {
      grpc: { ports: services.handlerGrpcUrls.map(portOf), pids: [producer] },
      connect: { ports: services.handlerUrls.map(portOf), pids: [producer] },
      amqp: { ports: [brokerPort], pids: [producer, ...handlers] },
    };
  }

  observe(run: Run): void {
    for (const phase of run.phases) {
      const target = this.#targets[phase.transport];
      if (phase.state !== PhaseState.MEASURING || !target) continue;
      const count = connectionsTo(target.pids, target.ports);
      this.#most.set(phase.transport, Math.max(this.#most.get(phase.transport) ?? 0, count));
    }
  }

  most(transport: string): number | undefined {
    return this.#most.get(transport);
  }
}

/** Starts, follows and reads back one run; `observe` sees every update. */
async function driveRun(
  client: ReturnType<typeof createClient<typeof ProducerService>>,
  options: CompareOptions,
  mode: SecurityMode,
  observe: (run: Run) => void,
  say: (line: string) => void,
  onRunning: (runId: string) => void,
): Promise<Run> {
  let run: Run | undefined;
  try {
    run = (await client.startRun({ spec: options.spec }, { timeoutMs: 10_000 })).run;
  } catch (error) {
    const connectError = ConnectError.from(error);
    if (connectError.code === Code.InvalidArgument) {
      const match = /^spec\.(\w+) (.*)$/s.exec(connectError.rawMessage);
      throw new Error(match ? `${FLAG_OF_FIELD[match[1]!] ?? match[1]} ${match[2]}` : connectError.rawMessage);
    }
    throw new Error(`the producer refused the ${mode} run: ${connectError.message}`);
  }
  if (!run) throw new Error("StartRun returned no run");
  onRunning(run.id);
  const reported = new Set<number>();
  const progress = (current: Run) => {
    current.phases.forEach((phase, index) => {
      const final = phase.state === PhaseState.DONE || phase.state === PhaseState.STOPPED;
      if (!final || reported.has(index)) return;
      reported.add(index);
      const row = toRow(phase);
      say(`${mode} [${index + 1}/${current.phases.length}] ${row.transport} ${formatBytes(row.payloadBytes)}: ${Math.round(row.throughput).toLocaleString("en-US")} msg/s, p99 ${formatMs(row.p99Ms)} ms, ${row.errors} errors`);
    });
  };
  try {
    for await (const update of client.watchRun({ id: run.id })) {
      if (!update.run) continue;
      run = update.run;
      observe(run);
      progress(run);
    }
  } catch (error) {
    say(`lost the progress stream (${ConnectError.from(error).message}); asking for the result`);
  }
  if (run.state === RunState.RUNNING) run = (await client.getRun({ id: run.id }, { timeoutMs: 10_000 })).run ?? run;
  return run;
}

/** Runs `options.spec` in one mode against services started for it; writes that mode's own report into `dir`. */
async function runMode(
  mode: SecurityMode,
  options: CompareOptions,
  pki: LocalPki,
  outDir: string,
  contextOf: (target: string) => Promise<ReportContext>,
  say: (line: string) => void,
  stopper: { stop?: () => void; stopped: boolean },
): Promise<ModeResult> {
  const dir = join(outDir, mode);
  mkdirSync(dir, { recursive: true });
  const brokerPort = mode === "cleartext" ? Number(new URL(options.amqpUrl).port || 5672) : AMQPS_PORT;
  const amqpUrl = mode === "cleartext" ? options.amqpUrl : amqpsUrlOf(options.amqpUrl, AMQPS_PORT);
  say(`${mode}: starting the handler and the producer (logs in ${relative(process.cwd(), dir) || "."})`);
  const services = await startLocalServices(amqpUrl, dir, { handlers: options.handlers, rpcBalancing: options.rpcBalancing, security: { mode, pki } });
  try {
    const client = createClient(ProducerService, createConnectTransport({ baseUrl: services.producerUrl, httpVersion: "1.1" }));
    const sampler = new ConnectionSampler(services, brokerPort);
    const run = await driveRun(client, options, mode, (current) => sampler.observe(current), say, (runId) => {
      stopper.stop = () => void client.stopRun({ id: runId }, { timeoutMs: 30_000 }).catch(() => {});
    });
    stopper.stop = undefined;
    // After the run, so the handshakes do not disturb the load; the services still listen.
    const targets = endpoints(services, mode, pki, brokerPort);
    const handshakes = new Map<string, HandshakeFigures>();
    for (const transport of new Set(run.phases.map((phase) => phase.transport))) {
      const target = targets[transport];
      if (target) handshakes.set(transport, await measureHandshakes(target, HANDSHAKE_SAMPLES));
    }
    const target = `${mode === "cleartext" ? "cleartext" : mode === "tls" ? "TLS" : "mutual TLS"}: handler ${services.handlerUrls.join(", ")} (gRPC ${services.handlerGrpcUrls.join(", ")}), broker ${new URL(amqpUrl).protocol}//${new URL(amqpUrl).host}`;
    const context = await contextOf(target);
    writeFileSync(join(dir, "report.json"), jsonReport(run, context));
    writeFileSync(join(dir, "report.md"), markdownReport(run, context));
    writeHtmlReport(dir);
    const rows = run.phases.map((phase) => ({ ...toRow(phase), mode, handshake: handshakes.get(phase.transport), connections: sampler.most(phase.transport) }));
    return { run, rows, summary: { mode, runId: run.id, state: runStateName(run.state), folder: mode, target } };
  } finally {
    await services.stop();
  }
}

/**
 * `compare --tls` / `--mtls`: makes the local PKI and the broker's TLS listener, runs
 * the phases cleartext and then secured, prints the side-by-side table and writes
 * report.{md,json,html} into `outDir` (each mode's full report in a subfolder).
 * Resolves with the exit status, as `compare` does.
 */
export async function runSecurityComparison(options: CompareOptions, argv: readonly string[], outDir: string, startedAt: Date, say: (line: string) => void): Promise<number> {
  const security = options.security!;
  const pki = await ensureLocalPki(LOCAL_PKI_DIR, { log: say });
  await ensureBroker(options.amqpUrl, say);
  await ensureBrokerTls(pki);
  const rabbitmq = await brokerVersion(options.amqpUrl);
  const contextOf = async (target: string): Promise<ReportContext> => ({
    command: ["npm run compare --", ...argv].join(" ").replace(/ --$/, ""),
    startedAt,
    target,
    machine: `${cpus().length} × ${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    rabbitmq,
  });

  const stopper: { stop?: () => void; stopped: boolean } = { stopped: false };
  const onSignal = () => {
    // No run to stop (starting up, or a second Ctrl-C): quit; 'exit' takes the services along.
    if (stopper.stopped || !stopper.stop) process.exit(130);
    stopper.stopped = true;
    say("stopping; what was measured so far follows (press Ctrl-C again to quit at once)");
    stopper.stop?.();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const results: ModeResult[] = [];
  for (const mode of ["cleartext", security] as const) {
    if (stopper.stopped) break;
    results.push(await runMode(mode, options, pki, outDir, contextOf, say, stopper));
  }
  const report: SecurityReport = {
    context: await contextOf("local"),
    security,
    runs: results.map((result) => result.summary),
    rows: results.flatMap((result) => result.rows),
  };
  writeFileSync(join(outDir, "report.json"), securityJson(report));
  writeFileSync(join(outDir, "report.md"), securityMarkdown(report));
  writeFileSync(join(outDir, "report.html"), securityHtml(report));
  if (options.json) {
    process.stdout.write(securityJson(report));
  } else {
    process.stdout.write(["", securityTextTable(report.rows), "", `what ${security === "mtls" ? "mutual TLS" : "TLS"} costs:`, ...securityCosts(report.rows).map((line) => `  ${line}`), ""].join("\n") + "\n");
  }
  say(`report in ${relative(process.cwd(), outDir) || "."}/report.html (and report.{md,json}); each mode's full report in cleartext/ and ${security}/`);

  const measured = report.rows.filter((row) => row.state === "done" || row.state === "stopped");
  const lost = measured.filter((row) => (row.lost ?? 0) > 0);
  const unverified = measured.filter((row) => row.lost === undefined && (row.outcomes.ok ?? 0) > 0);
  const silent = measured.filter((row) => (row.outcomes.ok ?? 0) === 0);
  const name = (row: SecurityRow) => `${row.transport} ${formatBytes(row.payloadBytes)} (${row.mode})`;
  if (lost.length > 0) say(`messages were lost on ${lost.map(name).join(", ")}: that must not happen`);
  if (unverified.length > 0) say(`loss could not be established for ${unverified.map(name).join(", ")} (see the notes in each mode's report)`);
  if (silent.length > 0) say(`no successful send on ${silent.map(name).join(", ")}`);
  if (stopper.stopped) return 130;
  const failed = results.some((result) => result.run.state === RunState.FAILED);
  return failed || lost.length > 0 || unverified.length > 0 || silent.length > 0 ? 1 : 0;
}
