import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/broker.ts";
import { ROOT } from "../support/process.ts";
import {
  CHART,
  counter,
  createRestrictedNamespace,
  getJson,
  helm,
  KUBECTL,
  kubectl,
  podGet,
  portForward,
  readyPods,
  requireCluster,
  run,
  type PortForward,
} from "./support.ts";

// The chart's whole life on a real cluster, in the order a user meets it: install into a
// namespace enforcing the restricted Pod Security Standard, helm test, a comparison run
// through a port-forward, an upgrade, a rolling restart under load, scaling, rollback and
// uninstall. Each step starts from the state the previous one left.

const RELEASE = "switchyard";
const HANDLER = "app.kubernetes.io/instance=switchyard,app.kubernetes.io/component=handler";
const PRODUCER = "app.kubernetes.io/instance=switchyard,app.kubernetes.io/component=producer";
// The kind values' smaller requests fit the one node beside CoreDNS; ClusterIP services
// (no NodePorts on this machine: everything goes through port-forwards).
const BASE_VALUES = [
  "-f", "charts/switchyard/values-kind.yaml",
  "--set", "handler.service.type=ClusterIP", "--set", "producer.service.type=ClusterIP", "--set", "rabbitmq.service.type=ClusterIP",
  "--set", "producer.env.BACKGROUND_RATE_GRPC=0", "--set", "producer.env.BACKGROUND_RATE_CONNECT=0", "--set", "producer.env.BACKGROUND_RATE_AMQP=0",
];
let namespace: { name: string; delete(): Promise<void> };
const forwards: PortForward[] = [];

beforeAll(async () => {
  requireCluster();
  namespace = await createRestrictedNamespace("switchyard-chart");
});

afterAll(async () => {
  for (const forward of forwards) await forward.close();
  if (namespace) {
    await run(helmBin(), ["uninstall", RELEASE, "-n", namespace.name, "--wait", "--ignore-not-found"], { timeoutMs: 180_000 });
    await namespace.delete();
  }
}, 300_000);

function helmBin(): string {
  return `${ROOT}/.tools/bin/helm`;
}

async function compareThrough(forward: PortForward, extra: string[] = []): Promise<any> {
  // The README's command: compare driving the producer in the cluster.
  const result = await run(process.execPath, ["tools/compare/src/cli.ts", "--producer-url", forward.url, "--quick", "--json", "--out", `${ROOT}/results/cluster`, ...extra], {
    timeoutMs: 240_000,
  });
  expect(result.code, `compare exited ${result.code}\n${result.stderr}`).toBe(0);
  return JSON.parse(result.stdout);
}

async function managementOf(ns: string): Promise<{ get(path: string): Promise<any>; close(): Promise<void> }> {
  const secret = await getJson(["secret", "-n", ns, `${RELEASE}-rabbitmq`]);
  const user = Buffer.from(secret.data.username, "base64").toString();
  const password = Buffer.from(secret.data.password, "base64").toString();
  const forward = await portForward(ns, `svc/${RELEASE}-rabbitmq`, 15672);
  const auth = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  return {
    get: async (path: string) => {
      const response = await fetch(`${forward.url}/api${path}`, { headers: { authorization: auth }, signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status}`);
      return response.json();
    },
    close: () => forward.close(),
  };
}

describe("charts/switchyard on a real cluster", () => {
  it("the restricted namespace rejects a pod that breaks the standard", async () => {
    // A pod with no securityContext at all: root allowed, capabilities kept, no seccomp.
    const result = await run(KUBECTL, ["-n", namespace.name, "run", "unrestricted", "--image=registry.k8s.io/pause:3.10", "--restart=Never"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/violates PodSecurity "restricted:latest": .*runAsNonRoot/);
  });

  it("installs with --wait: every pod admitted by the restricted standard and Ready", async () => {
    await helm(["install", RELEASE, CHART, "-n", namespace.name, ...BASE_VALUES, "--wait", "--timeout", "5m"]);
    const pods = await getJson<{ items: any[] }>(["pods", "-n", namespace.name]);
    const components = pods.items.map((pod) => pod.metadata.labels["app.kubernetes.io/component"]).sort();
    expect(components).toEqual(["handler", "producer", "rabbitmq"]);
    for (const pod of pods.items) {
      expect(pod.status.phase, pod.metadata.name).toBe("Running");
      expect(pod.status.containerStatuses.every((c: any) => c.ready && c.restartCount === 0), pod.metadata.name).toBe(true);
    }
  }, 360_000);

  it("passes helm test", async () => {
    const output = await helm(["test", RELEASE, "-n", namespace.name, "--logs", "--timeout", "2m"]);
    expect(output).toMatch(/Phase:\s+Succeeded/);
    expect(output).toMatch(/receipt from handler switchyard-handler-/);
  }, 180_000);

  it("compare through a port-forward: every transport sends, nothing lost", async () => {
    const forward = await portForward(namespace.name, `svc/${RELEASE}-producer`, 8080);
    forwards.push(forward);
    const report = await compareThrough(forward);
    const rows = report.rows as Array<{ transport: string; payloadBytes: number; acknowledged: number; errors: number; lost?: number }>;
    expect(rows.map((row) => row.transport).sort()).toEqual(["amqp", "amqp", "connect", "connect", "grpc", "grpc"]);
    for (const row of rows) {
      const phase = `${row.transport} ${row.payloadBytes} B`;
      expect(row.acknowledged, `${phase} acknowledged`).toBeGreaterThan(0);
      expect(row.errors, `${phase} errors`).toBe(0);
      expect(row.lost, `${phase} lost`).toBe(0);
    }
  }, 300_000);

  it("helm upgrade changing a value rolls it out to the pods", async () => {
    await helm(["upgrade", RELEASE, CHART, "-n", namespace.name, ...BASE_VALUES, "--set", "handler.env.LOG_LEVEL=debug", "--wait", "--timeout", "5m"]);
    const deployment = await getJson(["deployment", "-n", namespace.name, `${RELEASE}-handler`]);
    const env = deployment.spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
    expect(env.find((e) => e.name === "LOG_LEVEL")?.value).toBe("debug");
    const pods = await readyPods(namespace.name, HANDLER);
    expect(pods).toHaveLength(1);
    const pod = await getJson(["pod", "-n", namespace.name, pods[0]!]);
    expect(pod.spec.containers[0].env.find((e: any) => e.name === "LOG_LEVEL")?.value).toBe("debug");
  }, 360_000);

  it("a rolling restart of the handler under background load loses nothing", async () => {
    const management = await managementOf(namespace.name);
    try {
      // Everything that ever left the work queue or sits in it (acked, waiting,
      // dead-lettered), before any load: the producer restarted by this upgrade starts its
      // own counters at zero, so the broker's growth must cover all it had confirmed.
      const settled = async () => {
        const work = await management.get("/queues/%2F/switchyard.work");
        const dead = await management.get("/queues/%2F/switchyard.work.dead");
        return (work.message_stats?.ack ?? 0) + (work.messages ?? 0) + (dead.messages ?? 0);
      };
      const before = (await eventually(async () => {
        const first = await settled();
        const work = await management.get("/queues/%2F/switchyard.work");
        return work.messages === 0 && (await settled()) === first ? { value: first } : undefined;
      }, 60_000, 1_000))!;
      await helm(["upgrade", RELEASE, CHART, "-n", namespace.name, ...BASE_VALUES, "--set", "handler.env.LOG_LEVEL=debug",
        "--set", "producer.env.BACKGROUND_RATE_GRPC=20", "--set", "producer.env.BACKGROUND_RATE_CONNECT=20", "--set", "producer.env.BACKGROUND_RATE_AMQP=20",
        "--wait", "--timeout", "5m"]);
      const [producer] = await readyPods(namespace.name, PRODUCER);
      const producerMetrics = () => podGet(namespace.name, producer!, 8082, "/metrics");
      const sent = async (transport: string, outcome: string) =>
        counter(await producerMetrics(), "switchyard_producer_messages_total", { transport, outcome });
      await eventually(async () => (await sent("amqp", "ok")) > 40, 30_000, 500);
      const [oldHandler] = await readyPods(namespace.name, HANDLER);
      await kubectl(["-n", namespace.name, "rollout", "restart", `deployment/${RELEASE}-handler`]);
      await kubectl(["-n", namespace.name, "rollout", "status", `deployment/${RELEASE}-handler`, "--timeout=180s"], { timeoutMs: 200_000 });
      await eventually(async () => (await getJson<{ items: any[] }>(["pods", "-n", namespace.name, "-l", HANDLER])).items.every((p) => p.metadata.name !== oldHandler), 90_000, 1_000);
      // The new handler consumes: more messages handled after the old one is gone.
      const [newHandler] = await readyPods(namespace.name, HANDLER);
      const handled = async () => counter(await podGet(namespace.name, newHandler!, 8082, "/metrics"), "switchyard_handler_messages_total", { transport: "amqp", outcome: "ok" });
      const handledNow = await handled();
      await eventually(async () => (await handled()) > handledNow + 20, 30_000, 500);
      // The producer pauses its background load while a run is active: a gRPC-only run
      // holds the AMQP traffic still, so both counts can settle (the management API's
      // figures are sampled every few seconds) and be compared exactly.
      const forward = await portForward(namespace.name, `svc/${RELEASE}-producer`, 8080);
      const pausing = run(process.execPath, ["tools/compare/src/cli.ts", "--producer-url", forward.url, "--transports", "grpc", "--rate", "5",
        "--duration", "40s", "--warmup", "0", "--out", `${ROOT}/results/cluster`], { timeoutMs: 120_000 });
      try {
        const figures = async () => ({ confirmed: await sent("amqp", "ok"), accounted: (await settled()) - before.value });
        const { confirmed, accounted } = (await eventually(async () => {
          const first = await figures();
          await new Promise((resolve) => setTimeout(resolve, 6_000));
          const second = await figures();
          const work = await management.get("/queues/%2F/switchyard.work");
          return work.messages === 0 && first.confirmed === second.confirmed && first.accounted === second.accounted ? second : undefined;
        }, 35_000, 500))!;
        // Everything the broker confirmed was acked by a handler or dead-lettered.
        expect(accounted, `confirmed ${confirmed}, accounted for ${accounted}`).toBe(confirmed);
      } finally {
        await pausing;
        await forward.close();
      }
      const failed = { grpc: await sent("grpc", "error"), connect: await sent("connect", "error"), amqp: await sent("amqp", "error") };
      expect(failed, "sends that failed during the restart").toEqual({ grpc: 0, connect: 0, amqp: 0 });
    } finally {
      await management.close();
    }
  }, 600_000);

  it("scales the handler to 2 and back to 1", async () => {
    await kubectl(["-n", namespace.name, "scale", `deployment/${RELEASE}-handler`, "--replicas=2"]);
    await kubectl(["-n", namespace.name, "rollout", "status", `deployment/${RELEASE}-handler`, "--timeout=180s"], { timeoutMs: 200_000 });
    expect(await readyPods(namespace.name, HANDLER)).toHaveLength(2);
    // Both replicas consume the one queue.
    const management = await managementOf(namespace.name);
    try {
      await eventually(async () => (await management.get("/queues/%2F/switchyard.work")).consumers === 2, 60_000, 1_000);
    } finally {
      await management.close();
    }
    await kubectl(["-n", namespace.name, "scale", `deployment/${RELEASE}-handler`, "--replicas=1"]);
    await eventually(async () => (await getJson<{ items: any[] }>(["pods", "-n", namespace.name, "-l", HANDLER])).items.length === 1, 120_000, 1_000);
    expect(await readyPods(namespace.name, HANDLER)).toHaveLength(1);
  }, 420_000);

  it("helm rollback returns to the first revision's values", async () => {
    await helm(["rollback", RELEASE, "1", "-n", namespace.name, "--wait", "--timeout", "5m"]);
    const deployment = await getJson(["deployment", "-n", namespace.name, `${RELEASE}-handler`]);
    const env = deployment.spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
    expect(env.find((e) => e.name === "LOG_LEVEL")).toBeUndefined();
    const producer = await getJson(["deployment", "-n", namespace.name, `${RELEASE}-producer`]);
    expect(producer.spec.template.spec.containers[0].env.find((e: any) => e.name === "BACKGROUND_RATE_AMQP")?.value).toBe("0");
    const history = JSON.parse(await helm(["history", RELEASE, "-n", namespace.name, "-o", "json"]));
    expect(history.at(-1)).toMatchObject({ status: "deployed", description: "Rollback to 1" });
    await helm(["test", RELEASE, "-n", namespace.name, "--timeout", "2m"]);
  }, 480_000);

  it("helm uninstall leaves nothing behind", async () => {
    for (const forward of forwards.splice(0)) await forward.close();
    await helm(["uninstall", RELEASE, "-n", namespace.name, "--wait", "--timeout", "3m"]);
    await eventually(async () => (await getJson<{ items: any[] }>(["pods", "-n", namespace.name])).items.length === 0, 120_000, 1_000);
    const left = await kubectl(["get", "all,configmaps,secrets,pdb,networkpolicies,pvc,serviceaccounts,roles,rolebindings,endpointslices", "-n", namespace.name, "-o", "name"]);
    // What Kubernetes itself puts in every namespace.
    expect(left.trim().split("\n").filter(Boolean).sort()).toEqual(["configmap/kube-root-ca.crt", "serviceaccount/default"]);
  }, 300_000);
});
