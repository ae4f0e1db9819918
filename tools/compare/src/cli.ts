// `compare`: measures the transports side by side and prints one table. See --help.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { PhaseState, ProducerService, RunState, type Run } from "@switchyard/contracts";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, relative, resolve } from "node:path";
import { FLAG_OF_FIELD, HELP, parseFlags, UsageError } from "./flags.ts";
import { baselineText, compareRuns, readRun } from "./baseline.ts";
import { NoiseSampler } from "./baseline-noise.ts";
import { baselineSection } from "./html/baseline-section.ts";
import { brokerVersion } from "./html/broker-version.ts";
import { needsReferenceEndpoints, pairLines, PAIRS_LEGEND, referencePairs } from "./reference.ts";
import { runSteps } from "./steps.ts";
import { runSecurityComparison } from "./tls/security-run.ts";
import { writeHtmlReport } from "./html/write.ts";
import { ensureBroker, ROOT, startLocalServices, type LocalServices } from "./local.ts";
import {
  formatBytes,
  formatMs,
  jsonReport,
  markdownReport,
  phaseNotes,
  phaseStateName,
  replicaShares,
  runStateName,
  textTable,
  throughputRatios,
  toRow,
} from "./report.ts";

const say = (line: string) => process.stderr.write(`compare: ${line}\n`);

/** Shows a run's progress: one line rewritten in place on a terminal, a line per finished phase otherwise. */
class Progress {
  readonly #tty = Boolean(process.stderr.isTTY);
  readonly #reported = new Set<number>();

  update(run: Run): void {
    const total = run.phases.length;
    run.phases.forEach((phase, index) => {
      const final = phase.state === PhaseState.DONE || phase.state === PhaseState.STOPPED;
      if (final && !this.#reported.has(index)) {
        this.#reported.add(index);
        const row = toRow(phase);
        this.#line(
          `[${index + 1}/${total}] ${row.transport} ${formatBytes(row.payloadBytes)}: ${Math.round(row.throughput).toLocaleString("en-US")} msg/s, p99 ${formatMs(row.p99Ms)} ms, ${row.errors} errors${row.state === "stopped" ? " (stopped)" : ""}`,
          true,
        );
      }
    });
    const current = run.phases.findIndex((phase) => phase.state > PhaseState.PENDING && phase.state < PhaseState.DONE);
    if (this.#tty && current >= 0) {
      const phase = run.phases[current]!;
      const row = toRow(phase);
      this.#line(
        `[${current + 1}/${total}] ${row.transport} ${formatBytes(row.payloadBytes)} · ${phaseStateName(phase.state)} · ${(row.elapsedMs / 1000).toFixed(1)} s · ${Number(phase.sent).toLocaleString("en-US")} sent · ${Math.round(row.throughput).toLocaleString("en-US")} msg/s`,
        false,
      );
    }
  }

  done(): void {
    if (this.#tty) process.stderr.write("\r\x1b[K");
  }

  #line(text: string, keep: boolean): void {
    if (this.#tty) process.stderr.write(`\r\x1b[K${text}${keep ? "\n" : ""}`);
    else if (keep) process.stderr.write(`compare: ${text}\n`);
  }
}

/** Turns the producer's `spec.<field> …` validation message into one about the flag. */
function flagMessage(message: string): string {
  const match = /^spec\.(\w+) (.*)$/s.exec(message);
  return match ? `${FLAG_OF_FIELD[match[1]!] ?? match[1]} ${match[2]}` : message;
}

async function main(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseFlags(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      say(error.message);
      return 2;
    }
    throw error;
  }
  if (options.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }

  const startedAt = new Date();
  const outDir = resolve(options.out ?? join(ROOT, "results"), startedAt.toISOString().replace(/:/g, "-").replace(/\..*/, ""));
  mkdirSync(outDir, { recursive: true });
  if (options.security !== undefined) return runSecurityComparison(options, argv, outDir, startedAt, say);

  let services: LocalServices | undefined;
  let producerUrl = options.producerUrl;
  // Until a run exists there is nothing to keep: a Ctrl-C quits (and 'exit' takes the services along).
  let onSignal: () => void = () => process.exit(130);
  const signalled = () => onSignal();
  process.on("SIGINT", signalled);
  process.on("SIGTERM", signalled);
  try {
    if (producerUrl === undefined) {
      await ensureBroker(options.amqpUrl, say);
      const handlers = options.handlers === 1 ? "the handler" : `${options.handlers} handlers`;
      say(`starting ${handlers} and the producer (logs in ${relative(process.cwd(), outDir) || "."})`);
      // A reference transport named in --transports needs the endpoints as much as --reference does.
      const reference = options.reference || needsReferenceEndpoints(options.spec.transports);
      services = await startLocalServices(options.amqpUrl, outDir, { handlers: options.handlers, rpcBalancing: options.rpcBalancing, reference });
      producerUrl = services.producerUrl;
    }
    const client = createClient(ProducerService, createConnectTransport({ baseUrl: producerUrl, httpVersion: "1.1" }));
    const reportContext = async () => ({
      command: ["npm run compare --", ...argv].join(" ").replace(/ --$/, ""),
      startedAt,
      target: services
        ? `${services.handlerUrls.length === 1 ? "handler" : `${services.handlerUrls.length} handlers`} and producer started locally (${services.handlerUrls.join(", ")}; RPC balancing ${options.rpcBalancing}), broker ${new URL(options.amqpUrl).host}`
        : `producer at ${producerUrl}`,
      machine: `${cpus().length} × ${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
      node: process.version,
      rabbitmq: services ? await brokerVersion(options.amqpUrl) : undefined,
    });
    if (options.rateSteps !== undefined) {
      say(`stepped rate: ${options.rateSteps.map((rate) => rate.toLocaleString("en-US")).join(", ")} msg/s, one run each`);
      const stepped = await runSteps({ client, spec: options.spec, rates: options.rateSteps, kneeP99Ms: options.kneeP99Ms, outDir, context: reportContext, say });
      process.stdout.write(`\n${stepped.lines.join("\n")}\n\n`);
      say(`stepped run done; knees in ${relative(process.cwd(), outDir) || "."}/steps.html, each step's report in step-<n>-<rate>/`);
      return stepped.code;
    }

    let run: Run | undefined;
    try {
      run = (await client.startRun({ spec: options.spec }, { timeoutMs: 10_000 })).run;
    } catch (error) {
      const connectError = ConnectError.from(error);
      if (connectError.code === Code.InvalidArgument) {
        say(flagMessage(connectError.rawMessage));
        return 2;
      }
      say(`the producer at ${producerUrl} refused the run: ${connectError.message}`);
      return 1;
    }
    if (!run) throw new Error("StartRun returned no run");
    const runId = run.id;
    say(`run ${runId}: ${run.phases.length} phases, one after another`);

    let stopping = false;
    onSignal = () => {
      if (stopping) {
        say("stopping now, without results");
        services?.kill();
        process.exit(130);
      }
      stopping = true;
      say("stopping the run; partial results follow (press Ctrl-C again to quit at once)");
      client.stopRun({ id: runId }, { timeoutMs: 30_000 }).catch(() => {});
    };

    const progress = new Progress();
    const noise = new NoiseSampler();
    try {
      for await (const update of client.watchRun({ id: runId })) {
        if (!update.run) continue;
        run = update.run;
        progress.update(run);
        noise.observe(run);
      }
    } catch (error) {
      progress.done();
      say(`lost the progress stream (${ConnectError.from(error).message}); asking for the result`);
    }
    progress.done();
    if (run.state === RunState.RUNNING) run = (await client.getRun({ id: runId }, { timeoutMs: 10_000 })).run ?? run;

    const context = await reportContext();
    writeFileSync(join(outDir, "report.json"), jsonReport(run, context));
    writeFileSync(join(outDir, "report.md"), markdownReport(run, context));
    writeFileSync(join(outDir, "noise.json"), `${JSON.stringify({ phases: noise.result() }, null, 2)}\n`);
    const comparison = options.baseline !== undefined ? compareRuns(readRun(outDir), readRun(options.baseline)) : undefined;
    writeHtmlReport(outDir, { sections: comparison ? [baselineSection(comparison)] : [] });

    const rows = run.phases.map(toRow);
    if (options.json) {
      process.stdout.write(jsonReport(run, context));
    } else {
      const notes = [...run.notes, ...phaseNotes(rows)];
      const shares = replicaShares(rows);
      const pairs = pairLines(referencePairs(rows));
      process.stdout.write(
        [
          "",
          textTable(rows),
          "",
          "throughput relative to the fastest:",
          ...throughputRatios(rows).map((line) => `  ${line}`),
          ...(pairs.length > 0 ? ["", PAIRS_LEGEND, ...pairs.map((line) => `  ${line}`)] : []),
          ...(shares.length > 0 ? ["", "each handler's share of a phase's messages:", ...shares.map((line) => `  ${line}`)] : []),
          ...(notes.length > 0 ? ["", "notes:", ...notes.map((note) => `  - ${note}`)] : []),
          ...(comparison ? ["", ...baselineText(comparison)] : []),
          "",
        ].join("\n") + "\n",
      );
    }
    say(`run ${runStateName(run.state)}${run.error ? `: ${run.error}` : ""}; report in ${relative(process.cwd(), outDir) || "."}/report.html (and report.{md,json})`);

    const measured = rows.filter((row) => row.state === "done" || row.state === "stopped");
    const lost = measured.some((row) => (row.lost ?? 0) > 0);
    const silent = measured.filter((row) => (row.outcomes.ok ?? 0) === 0);
    // A phase with successful sends whose loss could not be established is not a pass.
    const unverified = measured.filter((row) => row.lost === undefined && (row.outcomes.ok ?? 0) > 0);
    if (lost) say("messages were lost (see the lost column): that must not happen");
    if (unverified.length > 0) {
      say(`loss could not be established for ${unverified.map((row) => `${row.transport} ${formatBytes(row.payloadBytes)}`).join(", ")} (see the notes)`);
    }
    if (silent.length > 0) say(`no successful send on ${silent.map((row) => `${row.transport} ${formatBytes(row.payloadBytes)}`).join(", ")}`);
    if (stopping) return 130;
    return run.state === RunState.FAILED || lost || silent.length > 0 || unverified.length > 0 ? 1 : 0;
  } finally {
    await services?.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
