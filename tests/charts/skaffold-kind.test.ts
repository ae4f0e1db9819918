import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "../support/process.ts";
import { HELMS, component, matches, ofKind, render, type Manifest } from "./support.ts";

// skaffold and kind cannot run here (no Docker engine); these checks hold the two files
// to the skaffold v4beta14 and kind v1alpha4 schemas as far as they are used, and to
// everything they point at: Dockerfiles, the chart, values files, Services and ports.
const skaffold = parse(readFileSync(join(ROOT, "skaffold.yaml"), "utf8"));
const kind = parse(readFileSync(join(ROOT, "kind-config.yaml"), "utf8"));

// Fields of the skaffold/v4beta14 JSON schema (docs-v2/content/en/schemas/v4beta14.json)
// for the parts this project uses; every definition there has additionalProperties false.
const SKAFFOLD_FIELDS: Record<string, string[]> = {
  config: ["apiVersion", "kind", "metadata", "requires", "build", "test", "manifests", "deploy", "portForward", "resourceSelector", "verify", "customActions", "profiles"],
  metadata: ["name", "labels", "annotations"],
  build: ["artifacts", "insecureRegistries", "tagPolicy", "platforms", "local", "googleCloudBuild", "cluster"],
  local: ["push", "tryImportMissing", "useDockerCLI", "useBuildkit", "concurrency"],
  artifact: ["image", "context", "sync", "requires", "hooks", "platforms", "runtimeType", "docker"],
  docker: ["dockerfile", "target", "buildArgs", "network", "addHost", "cacheFrom", "cacheTo", "cliFlags", "pullParent", "noCache", "secrets", "ssh"],
  deploy: ["docker", "helm", "kpt", "kubectl", "cloudrun", "statusCheck", "statusCheckDeadlineSeconds", "tolerateFailuresUntilDeadline", "kubeContext", "logs"],
  helm: ["concurrency", "releases", "flags", "hooks"],
  release: ["name", "chartPath", "remoteChart", "valuesFiles", "namespace", "version", "setValues", "setValueTemplates", "setFiles", "createNamespace", "wait", "recreatePods", "skipBuildDependencies", "skipTests", "useHelmSecrets", "repo", "upgradeOnChange", "overrides", "packaged", "dependsOn"],
  portForward: ["resourceType", "resourceName", "namespace", "port", "address", "localPort"],
  profile: ["name", "activation", "requiresAllActivations", "patches", "build", "test", "manifests", "deploy", "portForward", "resourceSelector", "verify", "customActions"],
  patch: ["op", "path", "value", "from"],
};

function expectFields(object: Record<string, unknown>, definition: string, where: string): void {
  const unknown = Object.keys(object).filter((key) => !SKAFFOLD_FIELDS[definition]!.includes(key));
  expect(unknown, `${where}: fields outside skaffold's ${definition} schema`).toEqual([]);
}

type Config = Record<string, any>;

/** Skaffold's profile patches (JSON Patch add/replace, as used here) applied to a copy. */
function applyPatches(config: Config, patches: Array<{ op: string; path: string; value: unknown }>): Config {
  const copy = structuredClone(config);
  for (const { op, path, value } of patches) {
    const keys = path.split("/").slice(1).map((key) => key.replaceAll("~1", "/").replaceAll("~0", "~"));
    const last = keys.pop()!;
    let parent: any = copy;
    for (const key of keys) {
      parent = parent[Array.isArray(parent) ? Number(key) : key];
      if (parent === undefined) throw new Error(`patch ${path}: ${key} does not exist`);
    }
    if (op === "add" && Array.isArray(parent)) {
      parent.splice(last === "-" ? parent.length : Number(last), 0, value);
    } else if (op === "add" || op === "replace") {
      parent[last] = value;
    } else {
      throw new Error(`patch op ${op} not handled here`);
    }
  }
  return copy;
}

/** Skaffold's name for an artifact inside setValueTemplates: '/', '-', '.' and ':' become '_'. */
const sanitize = (image: string) => image.replace(/[/\-.:]/g, "_");

/** Helm values path a.b.c of a parsed values file. */
function valueAt(values: Config, path: string): unknown {
  return path.split(".").reduce<any>((node, key) => (node && typeof node === "object" && key in node ? node[key] : undefined), values);
}

/** The chart as skaffold installs a release: its values files and setValueTemplates filled in. */
async function renderRelease(bin: string, release: Config) {
  const set: Record<string, unknown> = {};
  for (const [path, valueTemplate] of Object.entries(release.setValueTemplates as Record<string, string>)) {
    // What skaffold substitutes for a freshly built, kind-loaded image: the artifact's
    // name as repository, a git-describe tag.
    const repo = /^\{\{\.IMAGE_REPO_(\w+)\}\}$/.exec(valueTemplate);
    const artifact = (skaffold.build.artifacts as Config[]).find((a) => sanitize(a.image) === repo?.[1]);
    if (repo && !artifact) throw new Error(`${path}: ${valueTemplate} names no artifact`);
    const value = artifact ? artifact.image : "v0.1.0-3-gabcdef0";
    let node = set;
    const keys = path.split(".");
    for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[keys.at(-1)!] = value;
  }
  return render(bin, { release: release.name, namespace: "default", files: release.valuesFiles, values: [set] });
}

describe("skaffold.yaml", () => {
  it("uses the current schema and only its fields", () => {
    expect(skaffold.apiVersion).toBe("skaffold/v4beta14");
    expect(skaffold.kind).toBe("Config");
    expectFields(skaffold, "config", "skaffold.yaml");
    expectFields(skaffold.metadata, "metadata", "metadata");
    expectFields(skaffold.build, "build", "build");
    expectFields(skaffold.build.local, "local", "build.local");
    for (const artifact of skaffold.build.artifacts) {
      expectFields(artifact, "artifact", artifact.image);
      expectFields(artifact.docker, "docker", `${artifact.image}.docker`);
    }
    expectFields(skaffold.deploy, "deploy", "deploy");
    expectFields(skaffold.deploy.helm, "helm", "deploy.helm");
    for (const release of skaffold.deploy.helm.releases) expectFields(release, "release", release.name);
    for (const forward of skaffold.portForward) expectFields(forward, "portForward", forward.resourceName);
    for (const profile of skaffold.profiles) {
      expectFields(profile, "profile", profile.name);
      for (const patch of profile.patches) expectFields(patch, "patch", `${profile.name} ${patch.path}`);
    }
  });

  it("builds one image per service from the repository root with the service's Dockerfile", () => {
    const artifacts = skaffold.build.artifacts as Config[];
    expect(artifacts.map((a) => a.image).sort()).toEqual(["switchyard-handler", "switchyard-producer"]);
    for (const artifact of artifacts) {
      const service = artifact.image.replace("switchyard-", "");
      expect(artifact.context).toBe(".");
      expect(artifact.docker.dockerfile).toBe(`services/${service}/Dockerfile`);
      expect(existsSync(join(ROOT, artifact.docker.dockerfile))).toBe(true);
    }
    expect(skaffold.build.local.push, "kind loads images; nothing is pushed").toBe(false);
  });

  it("installs the chart with existing values files and binds each built image's repository and tag, no digest", () => {
    const [release, ...others] = skaffold.deploy.helm.releases as Config[];
    expect(others).toEqual([]);
    expect(existsSync(join(ROOT, release!.chartPath, "Chart.yaml"))).toBe(true);
    for (const file of release!.valuesFiles) expect(existsSync(join(ROOT, file)), file).toBe(true);
    const values = parse(readFileSync(join(ROOT, release!.chartPath, "values.yaml"), "utf8"));
    const expected: Record<string, string> = {};
    for (const artifact of skaffold.build.artifacts as Config[]) {
      const service = artifact.image.replace("switchyard-", "");
      expected[`${service}.image.repository`] = `{{.IMAGE_REPO_${sanitize(artifact.image)}}}`;
      expected[`${service}.image.tag`] = `{{.IMAGE_TAG_${sanitize(artifact.image)}}}`;
    }
    expect(release!.setValueTemplates).toEqual(expected);
    for (const path of Object.keys(expected)) expect(valueAt(values, path), `values.yaml has ${path}`).toBeTypeOf("string");
  });

  describe.each(HELMS)("with $name", ({ bin }) => {
    it("port-forwards Services and ports the release renders, to distinct local ports clear of kind's", async () => {
      const release = skaffold.deploy.helm.releases[0];
      const { objects } = await renderRelease(bin, release);
      const services = ofKind(objects, "Service");
      for (const forward of skaffold.portForward as Config[]) {
        expect(forward.resourceType).toBe("service");
        const service = services.find((s) => s.metadata.name === forward.resourceName);
        expect(service, `Service ${forward.resourceName}`).toBeDefined();
        expect(service!.spec.ports.map((p: Manifest) => p.port), forward.resourceName).toContain(forward.port);
      }
      const kindPorts = kind.nodes.flatMap((node: Config) => node.extraPortMappings.map((m: Config) => m.hostPort));
      const local = (skaffold.portForward as Config[]).map((f) => f.localPort);
      expect(new Set(local).size).toBe(local.length);
      for (const port of local) expect(kindPorts).not.toContain(port);
      // The images skaffold built, as repository:tag.
      const images = ofKind(objects, "Deployment").map((d) => d.spec.template.spec.containers[0].image).sort();
      expect(images).toEqual(["switchyard-handler:v0.1.0-3-gabcdef0", "switchyard-producer:v0.1.0-3-gabcdef0"]);
    });

    it("profile monitoring: kube-prometheus-stack first, our objects labelled for its selectors", async () => {
      const profile = (skaffold.profiles as Config[]).find((p) => p.name === "monitoring")!;
      const config = applyPatches(skaffold, profile.patches);
      const [stack, release] = config.deploy.helm.releases as Config[];
      expect(stack!.remoteChart).toBe("kube-prometheus-stack");
      expect(stack!.repo).toBe("https://prometheus-community.github.io/helm-charts");
      expect(release!.name).toBe("switchyard");
      expect(release!.dependsOn).toEqual([stack!.name]);
      expect(stack!.setValues["grafana.sidecar.dashboards.searchNamespace"]).toBe("ALL");
      for (const file of release!.valuesFiles) expect(existsSync(join(ROOT, file)), file).toBe(true);

      const { objects } = await renderRelease(bin, release!);
      // kube-prometheus-stack's Prometheus selects monitors and rules by release=<its release name>.
      const monitored = [...ofKind(objects, "ServiceMonitor"), ...ofKind(objects, "PrometheusRule")];
      expect(monitored.length).toBeGreaterThan(0);
      for (const object of monitored) expect(object.metadata.labels?.release, object.metadata.name).toBe(stack!.name);
      expect(ofKind(objects, "ServiceMonitor").map(component).sort()).toEqual(["handler", "producer", "rabbitmq"]);
      // Its Grafana sidecar's default label.
      const dashboards = ofKind(objects, "ConfigMap").filter((c) => c.metadata.labels?.grafana_dashboard === "1");
      expect(dashboards).toHaveLength(1);
      const extra = (config.portForward as Config[]).filter((f) => f.namespace === stack!.namespace);
      expect(extra.map((f) => f.resourceName).sort()).toEqual([`${stack!.name}-grafana`, `${stack!.name}-prometheus`]);
    });
  });
});

describe("kind-config.yaml", () => {
  it("publishes exactly the NodePorts of values-kind.yaml, on 127.0.0.1 only", async () => {
    expect([kind.kind, kind.apiVersion]).toEqual(["Cluster", "kind.x-k8s.io/v1alpha4"]);
    const mappings = kind.nodes.flatMap((node: Config) => node.extraPortMappings) as Config[];
    for (const mapping of mappings) {
      expect(mapping.listenAddress).toBe("127.0.0.1");
      expect(mapping.protocol).toBe("TCP");
      expect(mapping.hostPort).toBe(mapping.containerPort);
    }
    const { objects } = await render(HELMS[0].bin, { files: ["charts/switchyard/values-kind.yaml"] });
    const nodePorts = ofKind(objects, "Service").flatMap((service) =>
      (service.spec.ports as Manifest[]).filter((p) => p.nodePort !== undefined).map((p) => p.nodePort as number),
    );
    expect(mappings.map((m) => m.containerPort).sort()).toEqual(nodePorts.sort());
    for (const port of nodePorts) expect(port).toBeGreaterThanOrEqual(30000);
    for (const port of nodePorts) expect(port).toBeLessThanOrEqual(32767);
    // Every Service a user calls is reachable from the laptop; only the broker's metrics
    // Service (for in-cluster scrapers) and headless Services (pod discovery) stay inside.
    const inside = (service: Manifest) => service.metadata.name === "switchyard-rabbitmq-metrics" || service.spec.clusterIP === "None";
    const services = ofKind(objects, "Service");
    expect(services.filter(inside).map((s) => s.metadata.name).sort()).toEqual(["switchyard-handler-headless", "switchyard-rabbitmq-metrics"]);
    for (const service of services.filter((s) => !inside(s))) expect(service.spec.type, service.metadata.name).toBe("NodePort");
    const workloads = objects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet");
    for (const service of ofKind(objects, "Service")) {
      expect(workloads.some((w) => matches(service.spec.selector, w.spec.template.metadata.labels))).toBe(true);
    }
  });
});
