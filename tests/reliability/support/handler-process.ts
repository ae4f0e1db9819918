import type { ChildProcess } from "node:child_process";
import { startService, type StartOptions } from "../../support/process.ts";
import type { IncarnationReport } from "./ledger.ts";

/** A handler started as a real process (`node services/handler/src/main.ts`). */
export interface HandlerProcess {
  child: ChildProcess;
  /** http://HOST:PORT of the HTTP/1.1 listener (Connect, /readyz, /metrics, GetReceived). */
  httpUrl: string;
  /** http://HOST:PORT of the h2c listener (gRPC). */
  h2cUrl: string;
  /** Every line written so far to stdout and stderr. */
  lines: string[];
  /** Resolves with the exit code (or the signal's name) once the process ends. */
  exited: Promise<number | string | null>;
  /** Whether the process is still running. */
  readonly running: boolean;
  /** Sends `signal` to the process. */
  signal(signal: NodeJS.Signals): void;
  /** /readyz status, or 0 when the handler does not answer within a second. */
  readyz(): Promise<number>;
  /** Sum of one metric's samples whose labels include `labels` (e.g. `transport="amqp"`). */
  metric(name: string, labels?: string): Promise<number>;
  /** What this incarnation reports of `runId`: GetReceived, then its `ok` counters. */
  report(runId: string): Promise<IncarnationReport>;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`; resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Where and how to start a handler: its environment on top of a minimal one, and where it runs. */
export interface HandlerProcessOptions extends StartOptions {
  env: Record<string, string>;
}

/**
 * Starts a handler process (see {@link startService}) and adds what the fault suite asks
 * of it: readiness, metric sums and what this incarnation reports of a run.
 */
export async function startHandlerProcess({ env, ...options }: HandlerProcessOptions): Promise<HandlerProcess> {
  const service = await startService("handler", env, { timeoutMs: 30_000, ...options });
  const { child, httpUrl } = service;
  const exited = service.exited.then((code) => code ?? child.signalCode);
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    httpUrl,
    h2cUrl: service.h2cUrl,
    lines: service.lines,
    exited,
    get running() {
      return running();
    },
    signal: (signal) => {
      if (running()) child.kill(signal);
    },
    readyz: async () => {
      try {
        return (await fetch(`${httpUrl}/readyz`, { signal: AbortSignal.timeout(1_000) })).status;
      } catch {
        return 0;
      }
    },
    metric: async (name, labels = "") => {
      const text = await (await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
      return sumSamples(text, name, labels);
    },
    report: async (runId) => {
      // Ranges first, then the counters: an honest handler's ok count can only have
      // grown in between, so ranges never exceed it unless receipts are unbacked.
      const received = await getReceived(httpUrl, runId);
      const metrics = await (await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
      const ok = sumSamples(metrics, "switchyard_handler_messages_total", 'outcome="ok"');
      return {
        ranges: received.ranges.map(({ first, last }) => ({ first: Number(first), last: Number(last) })),
        duplicates: Number(received.duplicates),
        ok,
      };
    },
    stop: async (graceMs = 10_000) => {
      if (!running()) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Sums the samples of `name` in Prometheus text whose label set contains `labels`. */
function sumSamples(text: string, name: string, labels: string): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] === name && (match[2] ?? "").includes(labels)) sum += Number(match[3]);
  }
  return sum;
}

/** One page of ObservationService.GetReceived in protobuf JSON (64-bit integers as strings, defaults omitted). */
interface ReceivedPage {
  ranges?: Array<{ first: string; last: string }>;
  duplicates?: string;
  overflow?: string;
  nextAfter?: string;
}

/** Most pages read for one run: far more than any scenario's ranges need. */
const MAX_PAGES = 1_000;

/**
 * Reads every page of ObservationService.GetReceived for `runId`, as any Connect JSON
 * client (curl) would: the suite checks the handler through its public API.
 *
 * @throws Error when the handler left sequences out of its ranges (overflow): loss
 * could not be established then.
 */
async function getReceived(httpUrl: string, runId: string): Promise<{ ranges: Array<{ first: string; last: string }>; duplicates: string }> {
  const ranges: Array<{ first: string; last: string }> = [];
  let after = "0";
  let duplicates = "0";
  for (let page = 0; page < MAX_PAGES; page++) {
    const response = await fetch(`${httpUrl}/switchyard.v1.ObservationService/GetReceived`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ producerId: runId, after, pageSize: 10_000 }),
      signal: AbortSignal.timeout(5_000),
    });
    if (!response.ok) throw new Error(`GetReceived: ${response.status} ${await response.text()}`);
    const answer = (await response.json()) as ReceivedPage;
    if (Number(answer.overflow ?? 0) > 0) throw new Error(`GetReceived: ${answer.overflow} sequences left out of the ranges`);
    ranges.push(...(answer.ranges ?? []));
    duplicates = answer.duplicates ?? "0";
    if (answer.nextAfter === undefined) return { ranges, duplicates };
    after = answer.nextAfter;
  }
  throw new Error(`GetReceived: more than ${MAX_PAGES} pages`);
}
