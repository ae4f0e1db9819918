import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "@switchyard/contracts/health";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestVhost, eventually, type TestVhost } from "../support/broker.ts";
import { ROOT } from "../support/process.ts";
import { buildDockerfile, listTree, openUp, parseDockerfile, type Stage } from "./dockerfile.ts";

// Each service's image recipe, run as plain commands in a temp dir (tests/charts/dockerfile.ts),
// then the image's CMD started the way a pod starts it: as uid 1000 over files it does not
// own (the read-only root filesystem), with only the image's ENV plus the chart's variables.
// A broken recipe (a missing COPY, a dev dependency needed at run time, a wrong CMD)
// fails here instead of in a cluster.

const SERVICES = ["handler", "producer"] as const;
type Service = (typeof SERVICES)[number];

const rootPackage = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const workspace = mkdtempSync(join(tmpdir(), "switchyard-images-"));
const images = {} as Record<Service, Stage>;
const imageNode = join(workspace, "node");
let vhost: TestVhost;
const running: ChildProcess[] = [];

beforeAll(async () => {
  vhost = await createTestVhost("switchyard-image");
  for (const service of SERVICES) {
    const stages = buildDockerfile(join(ROOT, "services", service, "Dockerfile"), ROOT, join(workspace, service), process.env);
    images[service] = stages.at(-1)!;
  }
  // The image's own node binary: a copy of the tests' node, because the repository (and
  // so node_modules/.bin/node) may sit in a directory uid 1000 cannot enter.
  copyFileSync(process.execPath, imageNode);
  chmodSync(imageNode, 0o755);
}, 600_000);

afterAll(async () => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await vhost?.delete();
  rmSync(workspace, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts an image's CMD as its USER, in its WORKDIR, with its ENV and `env`. */
function startImage(image: Stage, env: Record<string, string>): { child: ChildProcess; output: string[]; exited: Promise<number | null> } {
  const [uid, gid] = (image.user ?? "0:0").split(":").map(Number) as [number, number];
  const cwd = join(image.root, image.workdir);
  openUp(cwd, workspace);
  const [command, ...args] = image.cmd!;
  // The image's node is the tests' node: the Dockerfile's NODE_VERSION is checked against it.
  const child = spawn(command === "node" ? imageNode : command!, args, {
    cwd,
    env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: "/nonexistent", ...image.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    ...(process.getuid?.() === 0 ? { uid, gid } : {}),
  });
  running.push(child);
  const output: string[] = [];
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => output.push(chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => output.push(chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output, exited };
}

async function grpcHealth(port: number): Promise<HealthCheckResponse_ServingStatus> {
  // What kubelet's gRPC probe does: grpc.health.v1 Check over h2c, empty service name.
  const client = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
  return (await client.check({ service: "" }, { timeoutMs: 2_000 })).status;
}

describe.each(SERVICES)("services/%s/Dockerfile", (service) => {
  const text = readFileSync(join(ROOT, "services", service, "Dockerfile"), "utf8");
  const instructions = parseDockerfile(text);

  it("is multi-stage on the Node the tests run, installing production dependencies of this workspace only", () => {
    const froms = instructions.filter((i) => i.op === "FROM").map((i) => i.args);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const version = /^NODE_VERSION=(.+)$/.exec(instructions.find((i) => i.op === "ARG")!.args)?.[1];
    expect(version, "ARG NODE_VERSION = the root package.json's node devDependency").toBe(rootPackage.devDependencies.node);
    expect(process.version).toBe(`v${version}`);
    for (const from of froms) expect(from).toMatch(/^node:\$\{NODE_VERSION\}-\w+-slim\b/);
    const runs = instructions.filter((i) => i.op === "RUN").map((i) => i.args);
    expect(runs).toEqual([expect.stringMatching(new RegExp(`^npm ci --omit=dev --workspace=@switchyard/${service}\\b`))]);
  });

  it("runs node directly as PID 1, as a numeric non-root user, exposing the Contract ports", () => {
    const image = images[service];
    expect(image.cmd).toEqual(["node", `services/${service}/src/main.ts`]);
    expect(image.user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    expect(image.expose.sort()).toEqual([8080, 8081]);
    expect(instructions.some((i) => i.op === "ENTRYPOINT"), "no entrypoint wrapper").toBe(false);
  });

  it("ships no development dependencies and no other service", () => {
    const app = join(images[service].root, images[service].workdir);
    // The lockfile marks what only development needs (test runner, compiler, buf, node itself).
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages).filter(([path, entry]) => entry.dev && path.startsWith("node_modules/"));
    expect(devOnly.map(([path]) => path)).toContain("node_modules/vitest");
    for (const [path] of devOnly) expect(existsSync(join(app, path)), path).toBe(false);
    const other = SERVICES.find((s) => s !== service)!;
    expect(existsSync(join(app, "services", other, "src")), `services/${other}/src`).toBe(false);
    expect(existsSync(join(app, "services", service, "test")), "tests stay out").toBe(false);
  });
});

describe("the images, started as a pod starts them", () => {
  it("answer /readyz and gRPC health, write nothing to their filesystem, and exit 0 on SIGTERM", async () => {
    const ports = { handler: { http: await freePort(), grpc: await freePort() }, producer: { http: await freePort(), grpc: await freePort() } };
    const before = Object.fromEntries(SERVICES.map((s) => [s, listTree(images[s].root)]));
    const common = { BIND_HOST: "127.0.0.1", AMQP_URL: vhost.url, LOG_LEVEL: "warn", SHUTDOWN_GRACE_MS: "5000" };
    const handler = startImage(images.handler, {
      ...common,
      HTTP_PORT: String(ports.handler.http),
      H2C_PORT: String(ports.handler.grpc),
    });
    const producer = startImage(images.producer, {
      ...common,
      HTTP_PORT: String(ports.producer.http),
      H2C_PORT: String(ports.producer.grpc),
      HANDLER_HTTP_URL: `http://127.0.0.1:${ports.handler.http}`,
      HANDLER_GRPC_URL: `http://127.0.0.1:${ports.handler.grpc}`,
    });
    const started = { handler, producer };
    let stopping = false;
    for (const service of SERVICES) {
      const { output, exited } = started[service];
      const ready = eventually(async () => (await fetch(`http://127.0.0.1:${ports[service].http}/readyz`)).status === 200, 30_000, 200);
      // A process that dies at start fails the test at once, with its output.
      const died = exited.then((code) => {
        if (!stopping) throw new Error(`${service} exited ${code} before it was ready:\n${output.join("")}`);
      });
      await Promise.race([ready, died]).catch((error: unknown) => {
        throw new Error(`${service} never ready: ${String(error)}\n${output.join("")}`);
      });
      expect(await grpcHealth(ports[service].grpc), service).toBe(HealthCheckResponse_ServingStatus.SERVING);
    }
    stopping = true;
    for (const service of ["producer", "handler"] as const) {
      started[service].child.kill("SIGTERM");
      expect(await started[service].exited, `${service} exit code\n${started[service].output.join("")}`).toBe(0);
    }
    for (const service of SERVICES) expect(listTree(images[service].root), `${service} wrote to its image`).toEqual(before[service]);
  }, 90_000);
});
