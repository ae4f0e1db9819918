import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "@switchyard/contracts/health";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestVhost, eventually, type TestVhost } from "../support/broker.ts";
import { ROOT } from "../support/process.ts";
import { ok, run } from "./support.ts";

// The service images as scripts/cluster/images.sh built them from the Dockerfiles, with
// a real engine, then started the way the chart's pods start them: read-only root
// filesystem, uid 1000, every capability dropped, no privilege escalation, a tmpfs /tmp.
// (The base image is a lookalike of node:<version>-trixie-slim: see docs/kubernetes.md.)

const SERVICES = ["handler", "producer"] as const;
type Service = (typeof SERVICES)[number];
const rootPackage = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const chart = readFileSync(join(ROOT, "charts/switchyard/Chart.yaml"), "utf8");
const TAG = /^appVersion: "?([^"\n]+)"?$/m.exec(chart)![1];
const image = (service: Service) => `switchyard-${service}:${TAG}`;
const docker = (args: string[], timeoutMs?: number) => ok("docker", args, timeoutMs ? { timeoutMs } : {});
let vhost: TestVhost;
const containers: string[] = [];

beforeAll(async () => {
  vhost = await createTestVhost("switchyard-image");
});

afterAll(async () => {
  for (const id of containers) await run("docker", ["rm", "-f", id]);
  await vhost?.delete();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * For every file a patch in patches/ changes, one line the patch adds: [path in the image, line].
 * Files of packages an image does not install are left out (none today: both take Connect).
 */
function patchedLines(): Array<[string, string]> {
  const lines: Array<[string, string]> = [];
  for (const name of readdirSync(join(ROOT, "patches")).filter((file) => file.endsWith(".patch"))) {
    let file: string | undefined;
    for (const line of readFileSync(join(ROOT, "patches", name), "utf8").split("\n")) {
      const target = /^\+\+\+ b\/(node_modules\/\S+)/.exec(line);
      if (target) file = target[1];
      // The first added line of code (not a comment) in each file stands for the patch there.
      else if (file && /^\+\s*[^\s/+]/.test(line)) {
        lines.push([file, line.slice(1).trim()]);
        file = undefined;
      }
    }
  }
  return lines;
}

/** The container flags equal to the chart's pod and container securityContext. */
const AS_THE_CHART_RUNS_IT = ["--read-only", "--tmpfs", "/tmp:size=64m", "--user", "1000:1000", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"];

describe.each(SERVICES)("services/%s/Dockerfile, built", (service) => {
  const dockerfile = readFileSync(join(ROOT, "services", service, "Dockerfile"), "utf8");
  const instructions = dockerfile.split("\n").filter((line) => /^[A-Z]+ /.test(line));

  it("builds offline-safe: no syntax directive (BuildKit would fetch its frontend image)", () => {
    expect(dockerfile).not.toMatch(/^#\s*syntax=/m);
  });

  it("is multi-stage on the Node the tests run, installing production dependencies of this workspace only", () => {
    expect(instructions.filter((i) => i.startsWith("FROM ")).length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toContain(`ARG NODE_VERSION=${rootPackage.devDependencies.node}\n`);
    const runs = instructions.filter((i) => i.startsWith("RUN "));
    expect(runs[0]).toMatch(new RegExp(`^RUN npm ci --omit=dev --workspace=@switchyard/${service}\\b`));
    // The only other step applies patches/ (see the next test for what it leaves behind).
    expect(runs.slice(1)).toEqual([expect.stringContaining("patch-package")]);
  });

  it("holds every file patches/ changes, as patched (Connect is patched in the image as in development)", async () => {
    const expected = patchedLines();
    const missing = await docker(["run", "--rm", "--network", "none", ...AS_THE_CHART_RUNS_IT, image(service), "node", "-e",
      `const fs=require("fs");const e=${JSON.stringify(expected)};` +
        `console.log(JSON.stringify(e.filter(([f,l])=>!fs.existsSync(f)||!fs.readFileSync(f,"utf8").includes(l))))`]);
    expect(expected.length).toBeGreaterThan(0);
    expect(JSON.parse(missing)).toEqual([]);
  });

  it("runs node as a numeric non-root user, exposing the Contract ports", async () => {
    const [config] = JSON.parse(await docker(["image", "inspect", image(service)])).map((i: any) => i.Config);
    expect(config.Cmd).toEqual(["node", `services/${service}/src/main.ts`]);
    expect(config.User).toBe("1000:1000");
    expect(Object.keys(config.ExposedPorts).sort()).toEqual(["8080/tcp", "8081/tcp"]);
    expect(config.WorkingDir).toBe("/app");
  });

  it("ships no development dependencies and no other service", async () => {
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([path, entry]) => entry.dev && path.startsWith("node_modules/")).map(([path]) => path);
    expect(devOnly).toContain("node_modules/vitest");
    const other = SERVICES.find((s) => s !== service)!;
    const paths = [...devOnly, `services/${other}/src`, `services/${service}/test`];
    const present = await docker(["run", "--rm", "--network", "none", ...AS_THE_CHART_RUNS_IT, image(service), "node", "-e",
      `const fs=require("fs");console.log(JSON.stringify(${JSON.stringify(paths)}.filter((p)=>fs.existsSync(p))))`]);
    expect(JSON.parse(present)).toEqual([]);
  });
});

describe("the images, started as the chart's pods start them", () => {
  async function grpcHealth(port: number): Promise<HealthCheckResponse_ServingStatus> {
    const client = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    return (await client.check({ service: "" }, { timeoutMs: 2_000 })).status;
  }

  it("answer /readyz and gRPC health with a read-only root, and exit 0 on SIGTERM", async () => {
    const ports = { handler: { http: await freePort(), grpc: await freePort() }, producer: { http: await freePort(), grpc: await freePort() } };
    const common = ["-e", "BIND_HOST=127.0.0.1", "-e", `AMQP_URL=${vhost.url}`, "-e", "LOG_LEVEL=warn", "-e", "SHUTDOWN_GRACE_MS=5000"];
    const env: Record<Service, string[]> = {
      handler: ["-e", `HTTP_PORT=${ports.handler.http}`, "-e", `H2C_PORT=${ports.handler.grpc}`],
      producer: ["-e", `HTTP_PORT=${ports.producer.http}`, "-e", `H2C_PORT=${ports.producer.grpc}`,
        "-e", `HANDLER_HTTP_URL=http://127.0.0.1:${ports.handler.http}`, "-e", `HANDLER_GRPC_URL=http://127.0.0.1:${ports.handler.grpc}`],
    };
    for (const service of SERVICES) {
      // The host network: the shared test broker listens on this machine's loopback.
      const id = (await docker(["run", "-d", "--network", "host", ...AS_THE_CHART_RUNS_IT, ...common, ...env[service], image(service)])).trim();
      containers.push(id);
      await eventually(async () => {
        const state = JSON.parse(await docker(["inspect", "-f", "{{json .State}}", id]));
        if (!state.Running) throw new Error(`${service} exited ${state.ExitCode}: ${(await run("docker", ["logs", id])).stderr}`);
        return (await fetch(`http://127.0.0.1:${ports[service].http}/readyz`)).status === 200;
      }, 60_000, 250);
      expect(await grpcHealth(ports[service].grpc), service).toBe(HealthCheckResponse_ServingStatus.SERVING);
    }
    for (const [service, id] of [["producer", containers[1]!], ["handler", containers[0]!]] as const) {
      await docker(["stop", "--time", "15", id], 30_000);
      const exit = JSON.parse(await docker(["inspect", "-f", "{{json .State.ExitCode}}", id]));
      expect(exit, `${service} exit code\n${(await run("docker", ["logs", id])).stderr}`).toBe(0);
    }
  }, 120_000);
});
