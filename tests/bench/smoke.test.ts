import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROWS } from "../../bench/rows.ts";

const run = promisify(execFile);
const ROOT = new URL("../../", import.meta.url).pathname;

interface BenchReport {
  samples: Array<{ group: string; row: string; ok: number; failed: number; throughput: number; cpuUsPerMessage: number; rssBytes: number; firstError?: string }>;
}

// `npm run bench -- --smoke` end to end, once, so the benchmark cannot rot: every row's
// processes start, load reaches them, and the figures come back. No figure is judged.
describe("npm run bench --smoke", () => {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-"));
  const out = join(dir, "smoke.json");
  let stdout = "";

  beforeAll(async () => {
    // First run on a machine builds ghz from the Go module proxy; later runs find it.
    await run("bash", ["scripts/ensure-bench-tools.sh"], { cwd: ROOT, timeout: 600_000 });
    ({ stdout } = await run(process.execPath, ["bench/run.ts", "--smoke", `--out=${out}`], { cwd: ROOT, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 }));
  }, 900_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("measures every row, each message answered and nothing failed", () => {
    const report = JSON.parse(readFileSync(out, "utf8")) as BenchReport;
    for (const row of ROWS) {
      const samples = report.samples.filter((sample) => sample.group === row.group && sample.row === row.name);
      expect(samples, `${row.group}: ${row.name}`).not.toHaveLength(0);
      for (const sample of samples) {
        expect({ row: sample.row, failed: sample.failed, error: sample.firstError }).toEqual({ row: row.name, failed: 0, error: undefined });
        expect(sample.ok).toBeGreaterThan(0);
        expect(sample.cpuUsPerMessage).toBeGreaterThan(0);
        expect(sample.rssBytes).toBeGreaterThan(0);
      }
    }
  });

  it("prints a table per group with every row in it", () => {
    for (const row of ROWS) {
      expect(stdout).toContain(`### ${row.group}, 64 B payload`);
      expect(stdout).toMatch(new RegExp(`^\\| ${row.name.replace(/[()]/g, "\\$&")} \\|`, "m"));
    }
  });
});

interface MemoryReport {
  idle: { handler: number; producer: number };
  steps: Array<{ transport: string; rate: number; sent: number; handler: { maxRssBytes: number }; producer: { maxRssBytes: number } }>;
  steady: { samples: { handler: Array<{ rssBytes: number }>; producer: Array<{ rssBytes: number }> } };
}

// `npm run bench:memory -- --smoke` once: both services start as npm start starts them,
// every transport gets its fixed-rate step, the steady run samples, and the verdicts print.
describe("npm run bench:memory --smoke", () => {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-memory-"));
  const out = join(dir, "memory.json");
  let stdout = "";

  beforeAll(async () => {
    ({ stdout } = await run(process.execPath, ["bench/memory.ts", "--smoke", `--out=${out}`], { cwd: ROOT, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 }));
  }, 360_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads idle RSS of both services, and each transport's step sends and is sampled", () => {
    const report = JSON.parse(readFileSync(out, "utf8")) as MemoryReport;
    expect(report.idle.handler).toBeGreaterThan(0);
    expect(report.idle.producer).toBeGreaterThan(0);
    expect(report.steps.map((step) => step.transport).sort()).toEqual(["amqp", "connect", "grpc"]);
    for (const step of report.steps) {
      expect(step.sent, step.transport).toBeGreaterThan(0);
      expect(step.handler.maxRssBytes).toBeGreaterThan(0);
      expect(step.producer.maxRssBytes).toBeGreaterThan(0);
    }
    expect(report.steady.samples.handler.length).toBeGreaterThanOrEqual(3);
    expect(report.steady.samples.producer.length).toBe(report.steady.samples.handler.length);
  });

  it("prints the step table and a verdict line per service", () => {
    expect(stdout).toMatch(/^\| transport \| target msg\/s \| reached msg\/s/m);
    expect(stdout).toMatch(/^verdict handler: /m);
    expect(stdout).toMatch(/^verdict producer: /m);
  });
});
