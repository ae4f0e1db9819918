import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHART, createRestrictedNamespace, getJson, helm, kubectl, readyPods, requireCluster, run, HELM } from "./support.ts";

// The production path: `rabbitmq.enabled=false`, the broker outside the release and its
// address in an existing Secret — first as a whole URL, then (after an upgrade) as user
// name and password keys with `amqp.host`, as a RabbitmqCluster's default-user Secret.
// The broker here is a plain Deployment of the same RabbitMQ image, made by the test.

const RELEASE = "switchyard";
const USER = "app";
// Plain, as RabbitMQ's config format takes it unquoted; URL-escaping of awkward
// passwords is tested against the real broker in tests/charts/pod-scripts.test.ts.
const PASSWORD = randomBytes(16).toString("hex");
let namespace: { name: string; delete(): Promise<void> };

beforeAll(async () => {
  requireCluster();
  namespace = await createRestrictedNamespace("switchyard-external");
  const ns = namespace.name;
  await kubectl(["apply", "-n", ns, "-f", "-"], {
    input: JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: [
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "broker-config" },
          stringData: { "default-user.conf": `default_user = ${USER}\ndefault_pass = ${PASSWORD}\n` },
        },
        {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "broker" },
          spec: {
            selector: { matchLabels: { app: "broker" } },
            template: {
              metadata: { labels: { app: "broker" } },
              spec: {
                securityContext: { runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, fsGroup: 999, seccompProfile: { type: "RuntimeDefault" } },
                containers: [
                  {
                    name: "rabbitmq",
                    image: "rabbitmq:4.2-management",
                    imagePullPolicy: "IfNotPresent",
                    ports: [{ name: "amqp", containerPort: 5672 }],
                    readinessProbe: { tcpSocket: { port: "amqp" }, periodSeconds: 2 },
                    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                    volumeMounts: [
                      { name: "data", mountPath: "/var/lib/rabbitmq" },
                      { name: "tmp", mountPath: "/tmp" },
                      { name: "config", mountPath: "/etc/rabbitmq/conf.d/90-default-user.conf", subPath: "default-user.conf", readOnly: true },
                    ],
                  },
                ],
                volumes: [
                  { name: "data", emptyDir: {} },
                  { name: "tmp", emptyDir: {} },
                  { name: "config", secret: { secretName: "broker-config" } },
                ],
              },
            },
          },
        },
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "broker" },
          spec: { selector: { app: "broker" }, ports: [{ name: "amqp", port: 5672, targetPort: "amqp" }] },
        },
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "broker-url" },
          stringData: { url: `amqp://${USER}:${encodeURIComponent(PASSWORD)}@broker.${ns}.svc:5672/%2F` },
        },
        { apiVersion: "v1", kind: "Secret", metadata: { name: "broker-default-user" }, stringData: { username: USER, password: PASSWORD } },
      ],
    }),
  });
  await kubectl(["-n", ns, "rollout", "status", "deployment/broker", "--timeout=240s"], { timeoutMs: 260_000 });
}, 300_000);

afterAll(async () => {
  if (!namespace) return;
  await run(HELM, ["uninstall", RELEASE, "-n", namespace.name, "--wait", "--ignore-not-found"], { timeoutMs: 180_000 });
  await namespace.delete();
}, 300_000);

const external = ["--set", "rabbitmq.enabled=false", "--set", "handler.resources.requests.cpu=100m", "--set", "producer.resources.requests.cpu=100m"];

describe("an external broker from an existing Secret", () => {
  it("a Secret holding the URL: the release installs without its own broker and passes helm test", async () => {
    const ns = namespace.name;
    await helm(["install", RELEASE, CHART, "-n", ns, ...external, "--set", "amqp.existingSecret=broker-url", "--set", "amqp.urlKey=url", "--wait", "--timeout", "5m"]);
    const statefulSets = await getJson<{ items: unknown[] }>(["statefulsets", "-n", ns]);
    expect(statefulSets.items).toHaveLength(0);
    expect(await readyPods(ns, "app.kubernetes.io/component=handler")).toHaveLength(1);
    const output = await helm(["test", RELEASE, "-n", ns, "--logs", "--timeout", "2m"]);
    expect(output).toMatch(/receipt from handler/);
  }, 420_000);

  it("a Secret holding user name and password, with amqp.host: an upgrade switches to it", async () => {
    const ns = namespace.name;
    await helm(["upgrade", RELEASE, CHART, "-n", ns, ...external, "--set", "amqp.existingSecret=broker-default-user",
      "--set", `amqp.host=broker.${ns}.svc`, "--wait", "--timeout", "5m"]);
    const output = await helm(["test", RELEASE, "-n", ns, "--logs", "--timeout", "2m"]);
    expect(output).toMatch(/receipt from handler/);
    // Both services hold a connection to the broker, as the user from the Secret.
    const connections = await kubectl(["-n", ns, "exec", "deployment/broker", "--", "rabbitmqctl", "list_connections", "user", "--silent"]);
    expect(connections.trim().split("\n").filter((line) => line.trim() === USER).length).toBeGreaterThanOrEqual(2);
  }, 420_000);
});
