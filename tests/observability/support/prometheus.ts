import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { eventually } from "../../support/broker.ts";

/** One series of a Prometheus query result: its labels and its latest value. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** A Prometheus server the test started, in a temporary directory of its own. */
export interface TestPrometheus {
  url: string;
  /** Instant query; throws with Prometheus' error text when the query fails. */
  query(expr: string): Promise<Sample[]>;
  /**
   * Range query from `start` to `end` (Unix seconds) at `step` seconds, as a dashboard
   * panel runs it; each series reports its latest value. Throws on a query error.
   */
  queryRange(expr: string, range: { start: number; end: number; step: number }): Promise<Sample[]>;
  /** Values of a label over series matching `match` (Grafana's label_values()). */
  labelValues(label: string, match: string): Promise<string[]>;
  /** GET /api/v1/<path> → data. */
  api(path: string): Promise<unknown>;
  /** Every line Prometheus logged. */
  lines: string[];
  stop(): Promise<void>;
}

/** Whether `prometheus` and `promtool` are on PATH (scripts/ensure-prometheus.sh installs them). */
export function havePrometheus(): boolean {
  return ["prometheus", "promtool"].every((tool) => spawnSync(tool, ["--version"]).status === 0);
}

/** A free TCP port on 127.0.0.1 (free when asked; Prometheus binds it right after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts `prometheus` with `config` (a prometheus.yml as an object) on a loopback port,
 * its TSDB in a temporary directory, and resolves once it reports ready.
 */
export async function startPrometheus(config: object): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-prometheus-"));
  const configPath = join(dir, "prometheus.yml");
  writeFileSync(configPath, stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    "prometheus",
    [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--storage.tsdb.retention.time=1h",
      "--log.level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const lines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding("utf8").on("data", (chunk: string) => lines.push(...chunk.split("\n").filter(Boolean)));
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };

  const api = async (path: string): Promise<unknown> => {
    const response = await fetch(`${url}/api/v1/${path}`);
    const body = (await response.json()) as { status: string; data?: unknown; error?: string; errorType?: string };
    if (body.status !== "success") throw new Error(`${path}: ${body.errorType}: ${body.error}`);
    return body.data;
  };
  const toSamples = (data: unknown): Sample[] => {
    const { resultType, result } = data as {
      resultType: string;
      result: Array<{ metric: Record<string, string>; value?: [number, string]; values?: Array<[number, string]> }>;
    };
    if (resultType === "scalar") return [{ labels: {}, value: Number((result as unknown as [number, string])[1]) }];
    return result.map((series) => ({
      labels: series.metric,
      value: Number(series.value ? series.value[1] : series.values!.at(-1)![1]),
    }));
  };

  try {
    await eventually(async () => (await fetch(`${url}/-/ready`)).ok, 20_000, 200);
  } catch (error) {
    await stop();
    throw new Error(`prometheus did not become ready: ${String(error)}\n${lines.join("\n")}`);
  }
  return {
    url,
    lines,
    api,
    stop,
    query: async (expr) => toSamples(await api(`query?query=${encodeURIComponent(expr)}`)),
    queryRange: async (expr, { start, end, step }) => {
      const params = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(step) });
      return toSamples(await api(`query_range?${params}`));
    },
    labelValues: async (label, match) =>
      (await api(`label/${encodeURIComponent(label)}/values?${new URLSearchParams({ "match[]": match })}`)) as string[],
  };
}
