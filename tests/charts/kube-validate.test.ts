import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../support/process.ts";
import { HELMS, SCENARIOS, run, template } from "./support.ts";

// Without a cluster, the closest thing to the API server's own check: every rendered
// object decoded strictly by the Kubernetes (and Prometheus Operator) Go API types,
// through tests/charts/kube-validate. Go is already needed to build Helm.
const validator = join(ROOT, ".cache/kube-validate");

beforeAll(async () => {
  mkdirSync(join(ROOT, ".cache"), { recursive: true });
  const build = await run("go", ["build", "-o", validator, "."], { cwd: join(ROOT, "tests/charts/kube-validate") });
  if (build.code !== 0) throw new Error(`building kube-validate failed:\n${build.stderr}`);
}, 600_000);

describe.each(HELMS)("$name template, decoded strictly by the Kubernetes API types", ({ bin }) => {
  it.each(SCENARIOS)("$name", async ({ files }) => {
    const rendered = await template(bin, { files });
    expect(rendered.code, rendered.stderr).toBe(0);
    const result = await run(validator, ["manifests"], { input: rendered.stdout });
    expect(result.stdout, "objects the API server would reject").toBe("");
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^\d+ objects valid/);
  });
});

describe("docs/kubernetes.md", () => {
  it("shows Kubernetes objects the API types accept", async () => {
    const docs = readFileSync(join(ROOT, "docs/kubernetes.md"), "utf8");
    const blocks = [...docs.matchAll(/^( *)```yaml\n([\s\S]*?)^\1```/gm)]
      .map(([, indent, body]) => body!.split("\n").map((line) => line.slice(indent!.length)).join("\n"))
      .filter((body) => /^apiVersion:/m.test(body));
    expect(blocks.length).toBeGreaterThan(0);
    const result = await run(validator, ["manifests"], { input: blocks.join("\n---\n") });
    expect(result.stdout).toBe("");
    expect(result.code).toBe(0);
  });
});

describe("the validator", () => {
  it("rejects a misspelled field, a wrong type and an unknown ServiceMonitor field", async () => {
    const input = [
      "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80, targetPort: http}], selectr: {}}",
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b}\nspec: {replicas: one}",
      "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: c}\nspec: {jobLable: x}",
    ].join("\n---\n");
    const result = await run(validator, ["manifests"], { input });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('Service/a: strict decoding error: unknown field "spec.selectr"');
    expect(result.stdout).toContain("Deployment/b:");
    expect(result.stdout).toContain('ServiceMonitor/c: strict decoding error: unknown field "spec.jobLable"');
  });

  it("accepts kind-config.yaml as kind's v1alpha4 Cluster", async () => {
    const result = await run(validator, ["kind-config", join(ROOT, "kind-config.yaml")]);
    expect(result.stdout + result.stderr).toBe("");
    expect(result.code).toBe(0);
  });
});
