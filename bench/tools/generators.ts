import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { pinnedTo } from "../lib/process.ts";
import type { LoadResult } from "../lib/load.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const GHZ = `${ROOT}.tools/bin/ghz`;
const WRK_SCRIPT = fileURLToPath(new URL("./connect-json.lua", import.meta.url));

/** One load generator window: where, how hard, for how long, with which deadline. */
export interface GeneratorRun {
  url: string;
  payloadBytes: number;
  concurrency: number;
  seconds: number;
  deadlineMs: number;
}

/** A zero payload of `bytes`, base64 as protobuf JSON writes `bytes` fields. */
function zeroPayloadBase64(bytes: number): string {
  return Buffer.alloc(bytes).toString("base64");
}

/**
 * Drives HandlerService.Handle over gRPC with ghz, pinned to the load core: one HTTP/2
 * connection, `concurrency` calls in flight, a unique work id per call, the deadline on
 * every call.
 */
export async function ghz(options: GeneratorRun): Promise<LoadResult> {
  const data = `{"work":{"id":"{{.UUID}}","producerId":"ghz","sequence":"{{.RequestNumber}}","sentAt":"{{.Timestamp}}","payload":"${zeroPayloadBase64(options.payloadBytes)}"}}`;
  const pinned = pinnedTo("load");
  const args = [
    "--insecure",
    `--import-paths=${ROOT}proto`,
    `--proto=${ROOT}proto/switchyard/v1/handler.proto`,
    "--call=switchyard.v1.HandlerService.Handle",
    `--concurrency=${options.concurrency}`,
    "--connections=1",
    `--duration=${options.seconds}s`,
    `--timeout=${options.deadlineMs}ms`,
    `--cpus=${pinned.length > 0 ? 1 : 2}`,
    "--format=json",
    `--data=${data}`,
    options.url.replace(/^https?:\/\//, ""),
  ];
  const [command, ...rest] = [...pinned, GHZ, ...args];
  const { stdout } = await run(command!, rest, { maxBuffer: 64 * 1024 * 1024 });
  const report = JSON.parse(stdout) as {
    count: number;
    total: number;
    statusCodeDistribution?: Record<string, number>;
    errorDistribution?: Record<string, number>;
    latencyDistribution?: Array<{ percentage: number; latency: number }> | null;
  };
  const ok = report.statusCodeDistribution?.OK ?? 0;
  // ghz ends the window by closing its connection: the calls still in flight then (at
  // most the concurrency) fail with these, which is ghz stopping, not the server failing.
  const cutAtEnd = Object.entries(report.errorDistribution ?? {})
    .filter(([message]) => /closed network connection|client connection is closing|context canceled/.test(message))
    .reduce((sum, [, count]) => sum + count, 0);
  const failures = Object.keys(report.errorDistribution ?? {}).filter((message) => !/closed network connection|client connection is closing|context canceled/.test(message));
  const at = (percentage: number) => (report.latencyDistribution?.find((entry) => entry.percentage === percentage)?.latency ?? Number.NaN) / 1000;
  const firstError = failures[0];
  return { ok, failed: report.count - ok - Math.min(cutAtEnd, options.concurrency), seconds: report.total / 1e9, p50Us: at(50), p99Us: at(99), ...(firstError ? { firstError } : {}) };
}

/**
 * Drives the Connect JSON route with wrk over HTTP/1.1, pinned to the load core:
 * `concurrency` keep-alive connections on one thread, a unique work id per request and
 * the Connect timeout header (see connect-json.lua).
 */
export async function wrk(options: GeneratorRun): Promise<LoadResult> {
  const pinned = pinnedTo("load");
  const args = [
    "-t1",
    `-c${options.concurrency}`,
    `-d${options.seconds}s`,
    `--timeout=${Math.ceil(options.deadlineMs / 1000)}s`,
    "-s",
    WRK_SCRIPT,
    `${options.url}/switchyard.v1.HandlerService/Handle`,
    "--",
    `wrk-${Math.random().toString(36).slice(2, 10)}`,
    zeroPayloadBase64(options.payloadBytes),
    String(options.deadlineMs),
  ];
  const [command, ...rest] = [...pinned, "wrk", ...args];
  const { stdout } = await run(command!, rest, { maxBuffer: 16 * 1024 * 1024 });
  const line = stdout.split("\n").find((text) => text.startsWith("WRKJSON "));
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`);
  const summary = JSON.parse(line.slice("WRKJSON ".length)) as { requests: number; errors: number; durationUs: number; p50: number; p99: number };
  return {
    ok: summary.requests - summary.errors,
    failed: summary.errors,
    seconds: summary.durationUs / 1e6,
    p50Us: summary.p50,
    p99Us: summary.p99,
    ...(summary.errors > 0 ? { firstError: `${summary.errors} wrk errors (non-2xx, socket or timeout)` } : {}),
  };
}
