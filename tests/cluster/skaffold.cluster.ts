import { spawn } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/broker.ts";
import { ROOT } from "../support/process.ts";
import { DOCKER_HOST, KUBECONFIG, KUBECTL, getJson, ok, readyPods, requireCluster, run } from "./support.ts";

// skaffold.yaml's `cluster` profile on the real cluster: `skaffold build` (classic
// builder, images imported into the cluster's containerd by the build hook) and
// `skaffold run`, and one `skaffold dev` cycle: a source change rebuilt and redeployed.

const SKAFFOLD = join(ROOT, ".tools/skaffold-v2.19.0/bin/skaffold");
const NAMESPACE = "switchyard-dev";
const HANDLER = "app.kubernetes.io/component=handler";
const work = mkdtempSync(join(tmpdir(), "switchyard-skaffold-"));
// skaffold drives Helm as a post-renderer; with Helm 4 that is a plugin whose strict
// version check fails (docs/kubernetes.md), so `helm` here is Helm 3.
const bin = join(work, "bin");
const env: NodeJS.ProcessEnv = {
  PATH: `${bin}:${dirname(KUBECTL)}:${process.env.PATH}`,
  KUBECONFIG,
  DOCKER_HOST,
  SKAFFOLD_UPDATE_CHECK: "false",
  SKAFFOLD_INTERACTIVE: "false",
};
const skaffold = (args: string[], timeoutMs = 600_000) => ok(SKAFFOLD, [...args, "-p", "cluster"], { env, timeoutMs });

beforeAll(() => {
  requireCluster();
  mkdirSync(bin);
  symlinkSync(join(ROOT, ".tools/bin/helm3"), join(bin, "helm"));
});

afterAll(async () => {
  await run(SKAFFOLD, ["delete", "-p", "cluster"], { env, timeoutMs: 180_000 });
  await run(KUBECTL, ["delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s"], { timeoutMs: 150_000 });
  rmSync(work, { recursive: true, force: true });
}, 400_000);

describe("skaffold (profile cluster)", () => {
  it("parses skaffold.yaml: the profile's patches apply", async () => {
    const diagnosed = await skaffold(["diagnose", "--yaml-only"]);
    expect(diagnosed).toContain("useBuildkit: false");
    expect(diagnosed).toContain("network: host");
  });

  it("skaffold build: both images built and in the cluster's containerd", async () => {
    const output = join(work, "build.json");
    await skaffold(["build", "--file-output", output]);
    const { builds } = JSON.parse(readFileSync(output, "utf8")) as { builds: Array<{ imageName: string; tag: string }> };
    expect(builds.map((b) => b.imageName).sort()).toEqual(["switchyard-handler", "switchyard-producer"]);
    const images = (await ok("ctr", ["--address", "/var/lib/switchyard-cluster/run/containerd.sock", "-n", "k8s.io", "images", "ls", "-q"])).split("\n");
    for (const build of builds) {
      const reference = build.tag.split("@")[0]!;
      expect(images, reference).toContain(`docker.io/library/${reference}`);
    }
  }, 600_000);

  it("skaffold run: the release deployed with the images just built, Ready", async () => {
    await skaffold(["run", "--status-check=true"]);
    const pods = await readyPods(NAMESPACE, HANDLER);
    expect(pods).toHaveLength(1);
    const pod = await getJson(["pod", "-n", NAMESPACE, pods[0]!]);
    // An image skaffold built and did not push is deployed by its image ID.
    expect(pod.spec.containers[0].image).toMatch(/^switchyard-handler:[0-9a-f]{64}$/);
    await skaffold(["delete"]);
    await eventually(async () => (await getJson<{ items: unknown[] }>(["pods", "-n", NAMESPACE])).items.length === 0, 120_000, 1_000);
  }, 600_000);

  it("skaffold dev: a change to the handler's source is rebuilt and rolled out, then cleaned up", async () => {
    // A clone of the committed tree, so the edit below never touches the repository.
    const repo = join(work, "repo");
    await ok("git", ["clone", "--quiet", "--no-hardlinks", ROOT, repo]);
    const dev = spawn(SKAFFOLD, ["dev", "-p", "cluster", "--port-forward=false", "--trigger=polling", "--watch-poll-interval=1000", "--cleanup=true"], {
      cwd: repo,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let log = "";
    for (const stream of [dev.stdout!, dev.stderr!]) stream.setEncoding("utf8").on("data", (chunk: string) => (log += chunk));
    const exited = new Promise<number | null>((resolve) => dev.once("exit", (code) => resolve(code)));
    try {
      const handlerImages = async () => {
        const pods = await readyPods(NAMESPACE, HANDLER).catch(() => [] as string[]);
        const images = await Promise.all(pods.map(async (pod) => (await getJson(["pod", "-n", NAMESPACE, pod])).spec.containers[0].image as string));
        return [...new Set(images)];
      };
      let first: string | undefined;
      await eventually(async () => {
        const images = await handlerImages();
        first = images.length === 1 ? images[0] : undefined;
        return first !== undefined && log.includes("Watching for changes");
      }, 480_000, 2_000).catch((error: unknown) => {
        throw new Error(`skaffold dev did not deploy: ${String(error)}\n${log.slice(-4000)}`);
      });
      expect(first).toMatch(/^switchyard-handler:[0-9a-f]{64}$/);

      appendFileSync(join(repo, "services/handler/src/main.ts"), "// changed by the skaffold dev test\n");
      await eventually(async () => {
        const images = await handlerImages();
        return images.length === 1 && images[0] !== first;
      }, 480_000, 2_000).catch((error: unknown) => {
        throw new Error(`skaffold dev did not redeploy the change: ${String(error)}\n${log.slice(-4000)}`);
      });
      const [second] = await handlerImages();
      expect(second).toMatch(/^switchyard-handler:[0-9a-f]{64}$/);
    } finally {
      // Ctrl-C: skaffold dev deletes what it deployed (--cleanup) and exits.
      dev.kill("SIGINT");
      const code = await Promise.race([exited, new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 180_000))]);
      if (code === "timeout") dev.kill("SIGKILL");
    }
    await eventually(async () => (await getJson<{ items: unknown[] }>(["pods", "-n", NAMESPACE])).items.length === 0, 120_000, 1_000);
  }, 1_200_000);
});
