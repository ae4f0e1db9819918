import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../support/process.ts";

/**
 * The cluster scripts/cluster/up brought up: its kubeconfig (the API server on a loopback
 * port of this machine) and the binaries it built. `npm run test:cluster` sets
 * SWITCHYARD_KUBECONFIG; run by hand, the default state dir is used.
 */
export const KUBECONFIG = process.env.SWITCHYARD_KUBECONFIG ?? "/var/lib/switchyard-cluster/kubeconfig";
/** kubectl built by scripts/cluster/binaries.sh, the cluster's own version. */
export const KUBECTL = join(ROOT, ".tools/kubernetes-v1.34.4/bin/kubectl");
/** Helm v4, built by scripts/ensure-helm.sh. */
export const HELM = join(ROOT, ".tools/bin/helm");
/** The chart under test. */
export const CHART = join(ROOT, "charts/switchyard");
/** dockerd's socket (scripts/cluster/engine.sh), for the image tests. */
export const DOCKER_HOST = process.env.SWITCHYARD_DOCKER_HOST ?? "unix:///var/lib/switchyard-cluster/run/docker.sock";

/** Fails fast, with what to do, when no cluster is up. */
export function requireCluster(): void {
  if (!existsSync(KUBECONFIG)) throw new Error(`no cluster: ${KUBECONFIG} is missing; run scripts/cluster/up (or npm run test:cluster)`);
}

/** Output of one command. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion within `timeoutMs`, never throwing on a non-zero exit. */
export function run(bin: string, args: string[], options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      bin,
      args,
      {
        cwd: ROOT,
        maxBuffer: 64 * 1024 * 1024,
        timeout: options.timeoutMs ?? 120_000,
        env: { ...process.env, KUBECONFIG, DOCKER_HOST, ...options.env },
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") {
          reject(new Error(`${bin} ${args.join(" ")}: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: typeof error?.code === "number" ? error.code : 0, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

/** Runs a command and returns its stdout; a non-zero exit throws with its output. */
export async function ok(bin: string, args: string[], options: Parameters<typeof run>[2] = {}): Promise<string> {
  const result = await run(bin, args, options);
  if (result.code !== 0) throw new Error(`${bin.split("/").at(-1)} ${args.join(" ")} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** kubectl against the test cluster; throws on failure. */
export function kubectl(args: string[], options: Parameters<typeof run>[2] = {}): Promise<string> {
  return ok(KUBECTL, args, options);
}

/** `kubectl get -o json`, parsed. */
export async function getJson<T = any>(args: string[]): Promise<T> {
  return JSON.parse(await kubectl(["get", ...args, "-o", "json"])) as T;
}

/** helm v4 against the test cluster; throws on failure. */
export function helm(args: string[], options: Parameters<typeof run>[2] = {}): Promise<string> {
  return ok(HELM, args, { timeoutMs: 600_000, ...options });
}

/**
 * A namespace of the test's own, enforcing the restricted Pod Security Standard (so every
 * pod the chart makes is held to it by the real admission controller). `delete` removes
 * it and waits until it is gone.
 */
export async function createRestrictedNamespace(prefix: string): Promise<{ name: string; delete(): Promise<void> }> {
  const name = `${prefix}-${randomUUID().slice(0, 6)}`;
  await kubectl(["create", "namespace", name]);
  await kubectl(["label", "namespace", name, "pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/enforce-version=latest"]);
  return {
    name,
    delete: async () => {
      await kubectl(["delete", "namespace", name, "--wait=true", "--timeout=120s", "--ignore-not-found"], { timeoutMs: 150_000 });
    },
  };
}

/** A running `kubectl port-forward` on a loopback port the OS chose. */
export interface PortForward {
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * Forwards a free loopback port of this machine to `target` (e.g. `svc/switchyard-producer`)
 * port `remotePort`, through the API server: the only way into the cluster's namespace.
 */
export async function portForward(namespace: string, target: string, remotePort: number): Promise<PortForward> {
  const child: ChildProcess = spawn(KUBECTL, ["-n", namespace, "port-forward", "--address", "127.0.0.1", target, `:${remotePort}`], {
    env: { ...process.env, KUBECONFIG },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`port-forward ${target} not ready in 30 s: ${output.join("")}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      // "Forwarding from 127.0.0.1:40123 -> 8080"
      const match = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(output.join(""));
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`port-forward ${target} exited ${code}: ${output.join("")}`));
    });
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/**
 * GETs `path` on port `port` of a pod through the API server's proxy (no port-forward):
 * how the tests read a pod's /metrics.
 */
export function podGet(namespace: string, pod: string, port: number, path: string): Promise<string> {
  return kubectl(["get", "--raw", `/api/v1/namespaces/${namespace}/pods/${pod}:${port}/proxy${path}`], { timeoutMs: 15_000 });
}

/** Sums a Prometheus counter's samples whose labels include every given label. */
export function counter(metrics: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of metrics.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/** Names of the Running, Ready pods matching a label selector. */
export async function readyPods(namespace: string, selector: string): Promise<string[]> {
  const pods = await getJson<{ items: any[] }>(["pods", "-n", namespace, "-l", selector]);
  return pods.items
    .filter((pod) => !pod.metadata.deletionTimestamp && pod.status.phase === "Running")
    .filter((pod) => pod.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"))
    .map((pod) => pod.metadata.name as string);
}
