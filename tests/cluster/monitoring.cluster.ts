import { readdirSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHART, createRestrictedNamespace, getJson, helm, HELM, KUBECTL, kubectl, ok, requireCluster, run } from "./support.ts";

// The monitoring objects on a real API server: the ServiceMonitor and PrometheusRule CRDs
// of the Prometheus Operator (from its Go module source) installed, then the chart with
// every monitoring object on. The newest release of the operator's main module the Go
// module proxy serves here (v0.95.x answer 403); tests/charts/kube-validate decodes the
// same objects with the v0.95.1 API types.

const OPERATOR_VERSION = "v0.90.1";
const RELEASE = "switchyard";
const CRDS = ["monitoring.coreos.com_servicemonitors.yaml", "monitoring.coreos.com_prometheusrules.yaml"];
let namespace: { name: string; delete(): Promise<void> };
let crdDir: string;

beforeAll(async () => {
  requireCluster();
  namespace = await createRestrictedNamespace("switchyard-monitoring");
  const download = JSON.parse(
    await ok("go", ["mod", "download", "-json", `github.com/prometheus-operator/prometheus-operator@${OPERATOR_VERSION}`], {
      timeoutMs: 300_000,
      env: { GOFLAGS: "-mod=mod" },
    }),
  );
  crdDir = join(download.Dir, "example/prometheus-operator-crd");
  expect(readdirSync(crdDir)).toEqual(expect.arrayContaining(CRDS));
}, 360_000);

afterAll(async () => {
  if (namespace) {
    await run(HELM, ["uninstall", RELEASE, "-n", namespace.name, "--wait", "--ignore-not-found"], { timeoutMs: 180_000 });
    await namespace.delete();
  }
  // The CRDs are the cluster's, not the namespace's: take them away again.
  if (crdDir) for (const crd of CRDS) await run(KUBECTL, ["delete", "-f", join(crdDir, crd), "--ignore-not-found"]);
}, 300_000);

// No service pods (not what is tested here); the in-chart broker stays for its monitor.
const monitoringValues = ["-f", "charts/switchyard/ci/monitoring-values.yaml", "--set", "handler.replicaCount=0", "--set", "producer.replicaCount=0"];

describe("ServiceMonitors and the PrometheusRule on a real API server", () => {
  it("without the CRDs the API server refuses the release", async () => {
    const result = await run(HELM, ["install", RELEASE, CHART, "-n", namespace.name, ...monitoringValues]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/no matches for kind "(ServiceMonitor|PrometheusRule)"/);
  });

  it("with the CRDs installed every monitoring object is accepted as rendered", async () => {
    for (const crd of CRDS) await kubectl(["apply", "--server-side", "-f", join(crdDir, crd)]);
    await kubectl(["wait", "--for=condition=Established", "crd/servicemonitors.monitoring.coreos.com", "crd/prometheusrules.monitoring.coreos.com", "--timeout=60s"]);
    await helm(["install", RELEASE, CHART, "-n", namespace.name, ...monitoringValues]);
    const rendered = parseAllDocuments(await helm(["get", "manifest", RELEASE, "-n", namespace.name])).map((doc) => doc.toJS());
    for (const kind of ["ServiceMonitor", "PrometheusRule"]) {
      const sent = rendered.filter((object) => object?.kind === kind);
      const stored = (await getJson<{ items: any[] }>([`${kind.toLowerCase()}s.monitoring.coreos.com`, "-n", namespace.name])).items;
      expect(stored.map((object) => object.metadata.name).sort(), kind).toEqual(sent.map((object) => object.metadata.name).sort());
      // Stored as sent: the CRD's structural schema pruned or defaulted nothing away.
      for (const object of sent) {
        const match = stored.find((s) => s.metadata.name === object.metadata.name);
        expect(match.spec, `${kind} ${object.metadata.name}`).toMatchObject(object.spec);
      }
    }
    expect(rendered.filter((object) => object?.kind === "ServiceMonitor")).toHaveLength(3);
  }, 180_000);
});
