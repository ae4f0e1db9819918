import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { ROOT } from "../support/process.ts";

/** The chart under test. */
export const CHART = join(ROOT, "charts/switchyard");

/** Both Helm majors the chart must work with, built by scripts/ensure-helm.sh. */
export const HELMS = [
  { name: "helm v4", bin: join(ROOT, ".tools/bin/helm") },
  { name: "helm v3", bin: join(ROOT, ".tools/bin/helm3") },
] as const;

/**
 * The Kubernetes version `helm template` renders for, as a cluster would report it to
 * `helm install`. Helm built from source (scripts/ensure-helm.sh) lacks the release
 * builds' default and would assume v1.20, below the chart's kubeVersion.
 */
export const KUBE_VERSION = "1.34.0";

/** How the broker URL reaches the services in a scenario (see _helpers.tpl amqpMode). */
export type BrokerMode = "bundled" | "url" | "credentials";

/** values-kind.yaml, as the tests pass values files: relative to the repository root. */
export const KIND = "charts/switchyard/values-kind.yaml";
const KIND_MONITORING = "charts/switchyard/values-kind-monitoring.yaml";
/** The values combinations the tests render: defaults, kind, production, HPA, monitoring... */
export const SCENARIOS: Array<{ name: string; files: string[]; broker: BrokerMode }> = [
  { name: "defaults", files: [], broker: "bundled" },
  { name: "kind", files: [KIND], broker: "bundled" },
  { name: "kind with monitoring", files: [KIND, KIND_MONITORING], broker: "bundled" },
  { name: "production, external broker URL", files: ["charts/switchyard/ci/production-values.yaml"], broker: "url" },
  { name: "RabbitMQ Cluster Operator credentials", files: ["charts/switchyard/ci/operator-values.yaml"], broker: "credentials" },
  { name: "HPA on", files: ["charts/switchyard/ci/hpa-values.yaml"], broker: "bundled" },
  { name: "monitoring on", files: ["charts/switchyard/ci/monitoring-values.yaml"], broker: "bundled" },
  { name: "every setting", files: ["charts/switchyard/ci/all-settings-values.yaml"], broker: "bundled" },
  { name: "TLS and mutual TLS", files: ["charts/switchyard/ci/tls-values.yaml"], broker: "bundled" },
];

/** Where the chart mounts a service's TLS Secret (the `switchyard.tlsDir` helper). */
export const TLS_MOUNT = "/etc/switchyard/tls";

/** A rendered Kubernetes object; the tests read it as plain parsed YAML. */
export type Manifest = Record<string, any> & {
  apiVersion: string;
  kind: string;
  metadata: Record<string, any> & { name: string };
};

/** Output of one command. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, never throwing on a non-zero exit. */
export function run(bin: string, args: string[], options: { input?: string; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      bin,
      args,
      { cwd: options.cwd ?? ROOT, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") {
          reject(error);
          return;
        }
        resolve({ code: typeof error?.code === "number" ? error.code : 0, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

/** What to render: values files (paths relative to the repository root) and inline values. */
export interface RenderOptions {
  release?: string;
  namespace?: string;
  files?: string[];
  values?: Record<string, unknown>[];
  chart?: string;
}

/** The helm template arguments for `options`; inline values go through temp files. */
function templateArgs(options: RenderOptions, dir: string): string[] {
  const args = ["template", options.release ?? "switchyard", options.chart ?? CHART];
  args.push("--namespace", options.namespace ?? "switchyard", "--kube-version", KUBE_VERSION);
  for (const file of options.files ?? []) args.push("--values", join(ROOT, file));
  (options.values ?? []).forEach((values, index) => {
    const path = join(dir, `values-${index}.yaml`);
    writeFileSync(path, stringify(values));
    args.push("--values", path);
  });
  return args;
}

/** `helm template` with `options`; resolves with the raw result (a failure is not thrown). */
export async function template(bin: string, options: RenderOptions = {}): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-values-"));
  try {
    return await run(bin, templateArgs(options, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `helm template` with `options`, parsed into objects; throws with helm's stderr on failure. */
export async function render(bin: string, options: RenderOptions = {}): Promise<{ text: string; objects: Manifest[] }> {
  const result = await template(bin, options);
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}):\n${result.stderr}`);
  return { text: result.stdout, objects: parseManifests(result.stdout) };
}

/** Parses a multi-document YAML stream, skipping empty documents. */
export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((document) => {
      if (document.errors.length > 0) throw new Error(`invalid YAML from helm: ${document.errors[0]!.message}`);
      return document.toJS() as Manifest | null;
    })
    .filter((object): object is Manifest => object !== null && typeof object === "object");
}

/** Objects of one kind. */
export function ofKind(objects: Manifest[], kind: string): Manifest[] {
  return objects.filter((object) => object.kind === kind);
}

/** The one object of `kind` named `name`; throws naming what exists otherwise. */
export function get(objects: Manifest[], kind: string, name: string): Manifest {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) {
    const names = ofKind(objects, kind).map((object) => object.metadata.name);
    throw new Error(`no ${kind} named ${name}; rendered: ${names.join(", ") || "none"}`);
  }
  return found;
}

/** The workloads (Deployments, StatefulSets) and bare Pods, with their pod spec and labels. */
export function podOwners(objects: Manifest[]): Array<{ object: Manifest; labels: Record<string, string>; spec: Manifest["spec"] }> {
  return objects.flatMap((object) => {
    if (object.kind === "Deployment" || object.kind === "StatefulSet") {
      return [{ object, labels: object.spec.template.metadata.labels ?? {}, spec: object.spec.template.spec }];
    }
    if (object.kind === "Pod") return [{ object, labels: object.metadata.labels ?? {}, spec: object.spec }];
    return [];
  });
}

/** True when every key of `selector` has the same value in `labels`. */
export function matches(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

/** The app.kubernetes.io/component label of an object. */
export function component(object: Manifest): string | undefined {
  return object.metadata.labels?.["app.kubernetes.io/component"];
}
