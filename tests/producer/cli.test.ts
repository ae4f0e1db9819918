// `npm run compare` as a user runs it: flags, exit codes, the table and the report files.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestVhost, eventually, type TestVhost } from "../support/broker.ts";
import { compare } from "../support/compare.ts";
import { ROOT, startService, type ServiceProcess } from "../support/process.ts";
import { closedPort } from "./support.ts";

let out: string;
beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), "switchyard-compare-"));
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("compare flags", () => {
  it.each([
    ["an unknown transport", ["--transports", "grpc,pigeon"], 'compare: --transports has unknown transport "pigeon"'],
    ["a rate of 0", ["--rate", "0"], "compare: --rate must be a number of messages/s greater than 0"],
    ["a negative rate", ["--rate", "-10"], "compare: --rate must be a number of messages/s greater than 0"],
    ["a payload over the handler's limit", ["--payloads", "64,2MiB"], "compare: --payloads must be at most the handler's limit of 1048576 bytes (got 2097152)"],
    ["a zero duration", ["--duration", "0s"], "compare: --duration must be greater than 0"],
    ["an unknown flag", ["--verbose"], "compare: Unknown option '--verbose'; see --help"],
  ])("refuses %s with one clear line and exit 2", async (_, args, line) => {
    const { code, stdout, stderr } = await compare(args);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(stderr.startsWith(line)).toBe(true);
  });

  it("documents every flag in --help", async () => {
    const { code, stdout } = await compare(["--help"]);
    expect(code).toBe(0);
    for (const flag of ["--producer-url", "--amqp-url", "--transports", "--payloads", "--concurrency", "--rate", "--duration", "--messages", "--warmup", "--send-timeout", "--quick", "--out", "--json", "--help"]) {
      expect(stdout).toContain(flag);
    }
  });
});

describe("compare against a running producer", () => {
  let producer: ServiceProcess;
  beforeAll(async () => {
    // No handler at all: validation must not need one, and sends must fail visibly.
    producer = await startService("producer", {
      AMQP_URL: "amqp://guest:guest@127.0.0.1:5672/switchyard-no-such-vhost",
      HANDLER_HTTP_URL: `http://127.0.0.1:${await closedPort()}`,
      HANDLER_GRPC_URL: `http://127.0.0.1:${await closedPort()}`,
      HANDLER_MAX_PAYLOAD_BYTES: "1000",
    });
  });
  afterAll(async () => {
    await producer?.stop();
  });

  it("reports the producer's own validation as a flag error, exit 2", async () => {
    const { code, stderr } = await compare(["--producer-url", producer.httpUrl, "--payloads", "2000", "--out", out]);
    expect(code).toBe(2);
    expect(stderr.trimEnd().split("\n").at(-1)).toBe("compare: --payloads must be at most the handler's limit of 1000 bytes (got 2000)");
  });

  it("finishes when the handler is unreachable, says so, and exits 1", async () => {
    const { code, stdout, stderr } = await compare([
      "--producer-url", producer.httpUrl, "--transports", "grpc", "--payloads", "64", "--quick", "--send-timeout", "1s", "--out", out,
    ]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^grpc\s+64 B\s+0\s/m);
    expect(stdout).toMatch(/handler unreachable over grpc: \d+ sends failed with unavailable/);
    expect(stderr).toContain("compare: no successful send on grpc 64 B");
  });
});

describe("compare end to end", () => {
  let vhost: TestVhost;
  beforeAll(async () => {
    vhost = await createTestVhost("switchyard-compare");
  });
  afterAll(async () => {
    await vhost?.delete();
  });

  it("starts the services, prints one table for all three transports and writes the report", async () => {
    const { code, stdout, stderr } = await compare(["--quick", "--payloads", "64", "--amqp-url", vhost.url, "--out", out]);
    expect(code, stderr).toBe(0);
    const lines = stdout.split("\n");
    const header = lines.findIndex((line) => line.startsWith("transport"));
    expect(lines[header]).toMatch(
      /^transport\s+payload\s+msgs\/s\s+p50 ms\s+p99 ms\s+p99\.9 ms\s+errors\s+lost\s+dup\s+CPU ms\/1k producer\s+CPU ms\/1k handler\s+CPU ms\/1k broker\s+CPU ms\/1k total\s+bytes\/msg$/,
    );
    for (const [offset, transport] of ["grpc", "connect", "amqp"].entries()) {
      // The broker's CPU is charged to AMQP only; the local broker's process is readable here.
      const broker = transport === "amqp" ? "[\\d.]+" : "–";
      expect(lines[header + 2 + offset]).toMatch(
        new RegExp(`^${transport}\\s+64 B\\s+[\\d,]+\\s.*\\s0\\s+0\\s+0\\s+[\\d.]+\\s+[\\d.]+\\s+${broker}\\s+[\\d.]+\\s+\\d+$`),
      );
    }
    expect(stdout).toMatch(/64 B: \w+ 1\.00 · \w+ 0\.\d\d · \w+ 0\.\d\d/);

    const folder = readdirSync(out).map((name) => join(out, name)).find((path) => existsSync(join(path, "report.md")) && readFileSync(join(path, "report.md"), "utf8").includes("started locally"));
    expect(folder).toBeDefined();
    const report = JSON.parse(readFileSync(join(folder!, "report.json"), "utf8")) as { rows: Array<{ transport: string; lost: number; throughput: number }> };
    expect(report.rows.map((row) => row.transport)).toEqual(["grpc", "connect", "amqp"]);
    expect(report.rows.every((row) => row.lost === 0 && row.throughput > 0)).toBe(true);
    expect(readFileSync(join(folder!, "report.md"), "utf8")).toContain("| transport | payload | msgs/s |");
    expect(existsSync(join(folder!, "handler.log"))).toBe(true);
  });
});

describe("compare interrupted", () => {
  let vhost: TestVhost;
  beforeAll(async () => {
    vhost = await createTestVhost("switchyard-compare-stop");
  });
  afterAll(async () => {
    await vhost?.delete();
  });

  it("stops the run on Ctrl-C, prints the partial results marked stopped, and stops the services", async () => {
    const child = spawn(process.execPath, ["tools/compare/src/cli.ts", "--duration", "60s", "--warmup", "0", "--payloads", "64", "--amqp-url", vhost.url, "--out", out], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    await eventually(() => /run run-\S+: 3 phases/.test(stderr), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    child.kill("SIGINT");
    const code = await exited;
    clearTimeout(timer);
    expect(code, stderr).toBe(130);
    expect(stderr).toContain("compare: stopping the run; partial results follow");
    expect(stderr).toContain("compare: run stopped");
    expect(stdout).toMatch(/^grpc\s+64 B\s+[\d,]+\s/m);
    expect(stdout).toContain("grpc 64 B: stopped before the end; figures cover what was sent until then");
    // The services went with it: their logs end with a clean shutdown.
    const logs = readdirSync(out)
      .map((name) => join(out, name, "producer.log"))
      .filter((path) => existsSync(path))
      .map((path) => readFileSync(path, "utf8"));
    expect(logs.some((log) => log.includes('"msg":"run ended"') && log.includes('"state":"stopped"') && log.includes('"msg":"shutdown complete"'))).toBe(true);
  });
});
