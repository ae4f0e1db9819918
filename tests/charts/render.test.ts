import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { BROKER_PERMISSIONS } from "@switchyard/platform";
import { ROOT } from "../support/process.ts";
import { createPki, createSecretMount, type Pki } from "../security/support/pki.ts";
import { handlerEnvSchema, loadHandlerConfig } from "../../services/handler/src/config.ts";
import { loadProducerConfig, producerEnvSchema } from "../../services/producer/src/config.ts";
import {
  CHART,
  HELMS,
  component,
  get,
  matches,
  ofKind,
  podOwners,
  render,
  run,
  template,
  KIND,
  SCENARIOS,
  TLS_MOUNT,
  type BrokerMode,
  type Manifest,
} from "./support.ts";

/** The environment schema and loader of each service, from the services' own code. */
const SERVICES = {
  handler: { keys: Object.keys(handlerEnvSchema.shape), load: loadHandlerConfig },
  producer: { keys: Object.keys(producerEnvSchema.shape), load: loadProducerConfig },
} as const;
type ServiceName = keyof typeof SERVICES;

/** The image's command, as the chart must repeat it when it adds --env-file. */
function dockerfileCmd(service: ServiceName): string[] {
  const text = readFileSync(join(CHART, "../../services", service, "Dockerfile"), "utf8");
  const line = text.split("\n").findLast((l) => l.startsWith("CMD "));
  return JSON.parse(line!.slice(4)) as string[];
}

/** A credentials URL standing in for an external Secret's content. */
const EXTERNAL_URL = "amqps://switchyard:s3cret@rabbitmq.example.com:5671/switchyard";

const REQUIRED_LABELS = [
  "app.kubernetes.io/name",
  "app.kubernetes.io/instance",
  "app.kubernetes.io/version",
  "app.kubernetes.io/managed-by",
  "app.kubernetes.io/part-of",
  "app.kubernetes.io/component",
];

function containersOf(spec: Manifest["spec"]): Manifest[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
}

/** The handler and producer containers, by the component label of their pods. */
function serviceContainers(objects: Manifest[]): Array<{ service: ServiceName; owner: Manifest; spec: Manifest["spec"]; container: Manifest }> {
  return podOwners(objects)
    .filter(({ object }) => object.kind === "Deployment")
    .map(({ object, spec }) => {
      const service = component(object) as ServiceName;
      const container = spec.containers.find((c: Manifest) => c.name === service);
      return { service, owner: object, spec, container };
    });
}

// A kubernetes.io/tls Secret as the kubelet mounts it, standing in for the chart's
// TLS mount when the services' own configuration loaders read what the chart renders.
let pki: Pki;
let tlsMount: string;
beforeAll(async () => {
  pki = createPki();
  const ca = await pki.createCa("chart-ca");
  const leaf = await ca.issue({ commonName: "switchyard-handler", altNames: ["DNS:switchyard-handler"] });
  tlsMount = createSecretMount(pki.dir, "tls", { "tls.crt": leaf.cert, "tls.key": leaf.key, "ca.crt": ca.cert }).dir;
});
afterAll(() => pki?.destroy());

/** The environment a container starts with, Secret references resolved as the scenario has them. */
function resolveEnv(container: Manifest, objects: Manifest[], broker: BrokerMode): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    if (typeof variable.value === "string") {
      env[variable.name] = variable.value.replace(TLS_MOUNT, tlsMount);
    } else if (variable.valueFrom?.secretKeyRef) {
      const { name, key } = variable.valueFrom.secretKeyRef;
      const secret = objects.find((o) => o.kind === "Secret" && o.metadata.name === name);
      env[variable.name] = secret ? secret.stringData[key] : EXTERNAL_URL;
    } else {
      throw new Error(`${variable.name}: unexpected source ${JSON.stringify(variable.valueFrom)}`);
    }
  }
  // The credentials mode's init container writes the URL to the --env-file instead.
  if (broker === "credentials") env.AMQP_URL = "amqp://default_user_x:p%2Fw@switchyard-broker.switchyard.svc:5672/%2F";
  return env;
}

describe.each(HELMS)("$name template", ({ bin }) => {
  describe.each(SCENARIOS)("$name", ({ files, broker }) => {
    let objects: Manifest[];
    beforeAll(async () => {
      ({ objects } = await render(bin, { files }));
    });

    it("labels every object with the app.kubernetes.io set and a component", () => {
      for (const object of objects) {
        const labels = object.metadata.labels ?? {};
        for (const label of REQUIRED_LABELS) {
          expect(labels[label], `${object.kind}/${object.metadata.name} ${label}`).toBeTruthy();
        }
        expect(labels["app.kubernetes.io/part-of"]).toBe("switchyard");
      }
      for (const { object, labels } of podOwners(objects)) {
        expect(component(object), `${object.metadata.name} pod labels`).toBe(labels["app.kubernetes.io/component"]);
      }
    });

    it("selects each workload's own pods, from every Service, PDB, HPA, NetworkPolicy and ServiceMonitor", () => {
      const workloads = podOwners(objects).filter(({ object }) => object.kind !== "Pod");
      for (const { object, labels } of workloads) {
        expect(matches(object.spec.selector.matchLabels, labels), `${object.metadata.name} selector`).toBe(true);
      }
      const selecting = (selector: Record<string, string>) => workloads.filter(({ labels }) => matches(selector, labels));
      for (const service of ofKind(objects, "Service")) {
        const selected = selecting(service.spec.selector);
        expect(selected.map(({ object }) => object.metadata.name), `Service ${service.metadata.name}`).toHaveLength(1);
        expect(component(selected[0]!.object)).toBe(component(service));
      }
      for (const pdb of ofKind(objects, "PodDisruptionBudget")) {
        expect(selecting(pdb.spec.selector.matchLabels), `PDB ${pdb.metadata.name}`).toHaveLength(1);
      }
      for (const policy of ofKind(objects, "NetworkPolicy")) {
        expect(selecting(policy.spec.podSelector.matchLabels), `NetworkPolicy ${policy.metadata.name}`).toHaveLength(1);
      }
      for (const hpa of ofKind(objects, "HorizontalPodAutoscaler")) {
        const target = get(objects, hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name);
        expect(target.spec.replicas, "an HPA-managed Deployment leaves replicas to the HPA").toBeUndefined();
      }
      for (const monitor of ofKind(objects, "ServiceMonitor")) {
        const services = ofKind(objects, "Service").filter((s) => matches(monitor.spec.selector.matchLabels, s.metadata.labels));
        expect(services, `ServiceMonitor ${monitor.metadata.name}`).toHaveLength(1);
        expect(monitor.spec.namespaceSelector.matchNames).toEqual(["switchyard"]);
      }
    });

    it("agrees on every port: containers, environment, probes, Services, ServiceMonitors, NetworkPolicies", () => {
      const owners = podOwners(objects);
      const portsOf = (spec: Manifest["spec"]) =>
        new Map<string, number>(spec.containers.flatMap((c: Manifest) => (c.ports ?? []).map((p: Manifest) => [p.name, p.containerPort])));
      for (const { object, spec } of owners) {
        const ports = portsOf(spec);
        for (const container of spec.containers as Manifest[]) {
          for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"].map((k) => container[k]).filter(Boolean)) {
            const where = `${object.metadata.name}/${container.name}`;
            if (probe.httpGet) expect(ports.has(probe.httpGet.port), `${where} httpGet port ${probe.httpGet.port}`).toBe(true);
            if (probe.tcpSocket) expect(ports.has(probe.tcpSocket.port), `${where} tcpSocket port`).toBe(true);
            if (probe.grpc) expect(probe.grpc.port, `${where} grpc probe on the grpc port`).toBe(ports.get("grpc"));
          }
        }
      }
      for (const { service, container } of serviceContainers(objects)) {
        const env = Object.fromEntries((container.env as Manifest[]).map((v) => [v.name, v.value]));
        const ports = new Map<string, number>(container.ports.map((p: Manifest) => [p.name, p.containerPort]));
        // DESIGN.md Ports Contract: HTTP/1.1 on 8080, h2c on 8081; the ops port apart.
        expect(ports, service).toEqual(new Map([["http", 8080], ["grpc", 8081], ["ops", 8082]]));
        expect(Number(env.HTTP_PORT)).toBe(ports.get("http"));
        expect(Number(env.H2C_PORT)).toBe(ports.get("grpc"));
        expect(Number(env.OPS_PORT)).toBe(ports.get("ops"));
        expect(env.BIND_HOST).toBe("0.0.0.0");
      }
      for (const service of ofKind(objects, "Service")) {
        const owner = owners.find(({ labels }) => matches(service.spec.selector, labels))!;
        const ports = portsOf(owner.spec);
        for (const port of service.spec.ports as Manifest[]) {
          expect(ports.get(port.targetPort), `Service ${service.metadata.name} port ${port.name}`).toBe(port.port);
          expect(port.name).toBe(port.targetPort);
          if (port.nodePort !== undefined) expect(service.spec.type).toBe("NodePort");
        }
      }
      for (const monitor of ofKind(objects, "ServiceMonitor")) {
        const service = ofKind(objects, "Service").find((s) => matches(monitor.spec.selector.matchLabels, s.metadata.labels))!;
        const names = service.spec.ports.map((p: Manifest) => p.name);
        for (const endpoint of monitor.spec.endpoints as Manifest[]) expect(names).toContain(endpoint.port);
      }
      for (const policy of ofKind(objects, "NetworkPolicy")) {
        const owner = owners.find(({ labels }) => matches(policy.spec.podSelector.matchLabels, labels))!;
        const ports = portsOf(owner.spec);
        for (const rule of policy.spec.ingress as Manifest[]) {
          for (const port of rule.ports) expect(ports.has(port.port), `${policy.metadata.name} port ${port.port}`).toBe(true);
        }
      }
    });

    it("sets only variables the services' configuration schemas define, and values they accept", () => {
      const found = serviceContainers(objects);
      expect(found.map(({ service }) => service).sort()).toEqual(["handler", "producer"]);
      for (const { service, container } of found) {
        const names = (container.env as Manifest[]).map((v) => v.name);
        expect(new Set(names).size, `${service}: no variable twice`).toBe(names.length);
        const unknown = names.filter((name) => !SERVICES[service].keys.includes(name));
        expect(unknown, `${service} variables outside its schema`).toEqual([]);
        // The services' own start-up validation, on exactly what the chart renders.
        expect(() => SERVICES[service].load(resolveEnv(container, objects, broker)), service).not.toThrow();
      }
    });

    it("gives both services the broker URL from a Secret only, and the same delivery limit", () => {
      const limits = new Set<string>();
      for (const { service, spec, container } of serviceContainers(objects)) {
        const variable = (container.env as Manifest[]).find((v) => v.name === "AMQP_URL")!;
        limits.add((container.env as Manifest[]).find((v) => v.name === "AMQP_DELIVERY_LIMIT")!.value);
        if (broker === "credentials") {
          expect(variable, `${service}: the URL comes from the env file`).toBeUndefined();
          const main = dockerfileCmd(service);
          expect(container.command).toEqual([main[0], "--env-file=/run/switchyard/amqp/url.env", ...main.slice(1)]);
          const init = spec.initContainers.find((c: Manifest) => c.name === "amqp-url");
          expect(init.volumeMounts.map((m: Manifest) => m.name).sort()).toEqual(["amqp-credentials", "amqp-url"]);
          expect(spec.volumes.find((v: Manifest) => v.name === "amqp-credentials").secret.secretName).toBe("switchyard-broker-default-user");
        } else {
          expect(variable.value, `${service}: AMQP_URL is never a plain value`).toBeUndefined();
          // The in-chart broker gives each service a user of its own.
          expect(variable.valueFrom.secretKeyRef).toEqual(
            broker === "bundled" ? { name: "switchyard-rabbitmq", key: `${service}-url` } : { name: "switchyard-amqp", key: "url" },
          );
          expect(container.command, `${service}: the image's own command`).toBeUndefined();
        }
      }
      expect(limits.size, "one AMQP_DELIVERY_LIMIT for both").toBe(1);
    });

    it("keeps credentials out of everything but Secrets", () => {
      const credentialUrl = /amqps?:\/\/[^\s/"'@]*:[^\s/"'@]*@/;
      const generated = ofKind(objects, "Secret").flatMap((secret) =>
        Object.entries((secret.stringData ?? {}) as Record<string, string>).filter(([key]) => key.endsWith("password")).map(([, value]) => value),
      );
      for (const object of objects.filter((o) => o.kind !== "Secret")) {
        const text = JSON.stringify(object);
        const where = `${object.kind}/${object.metadata.name}`;
        expect(text, where).not.toMatch(credentialUrl);
        expect(text, where).not.toMatch(/default_pass|guest:guest/);
        for (const password of generated) expect(text.includes(password), `${where} holds the broker password`).toBe(false);
      }
      for (const { container } of serviceContainers(objects)) {
        for (const variable of container.env as Manifest[]) expect(variable.name).not.toMatch(/PASS|USER|SECRET|TOKEN/);
      }
    });

    it("runs every pod under the restricted security profile with a writable /tmp only", () => {
      for (const { object, spec } of podOwners(objects)) {
        const where = object.metadata.name;
        expect(spec.automountServiceAccountToken, `${where}: no service account token`).toBe(false);
        expect(spec.securityContext.runAsNonRoot, where).toBe(true);
        expect(spec.securityContext.seccompProfile).toEqual({ type: "RuntimeDefault" });
        for (const container of containersOf(spec)) {
          const context = container.securityContext;
          const at = `${where}/${container.name}`;
          expect(context.allowPrivilegeEscalation, at).toBe(false);
          expect(context.readOnlyRootFilesystem, at).toBe(true);
          expect(context.capabilities.drop, at).toEqual(["ALL"]);
          expect(context.seccompProfile ?? spec.securityContext.seccompProfile).toEqual({ type: "RuntimeDefault" });
          expect(context.privileged ?? false, at).toBe(false);
        }
        for (const container of spec.containers.filter((c: Manifest) => c.name !== "handle")) {
          const tmp = (container.volumeMounts ?? []).find((m: Manifest) => m.mountPath === "/tmp");
          expect(tmp, `${where}/${container.name}: /tmp`).toBeDefined();
          expect(spec.volumes.find((v: Manifest) => v.name === tmp.name).emptyDir, `${where}: /tmp is an emptyDir`).toBeDefined();
        }
        for (const volume of spec.volumes ?? []) expect(volume.hostPath, `${where}: no hostPath`).toBeUndefined();
      }
    });

    it("gives each service more termination grace than its preStop sleep and its own shutdown grace", () => {
      for (const { service, spec, container } of serviceContainers(objects)) {
        const graceMs = Number((container.env as Manifest[]).find((v) => v.name === "SHUTDOWN_GRACE_MS")!.value);
        const sleep = container.lifecycle.preStop.sleep.seconds as number;
        expect(sleep, service).toBeGreaterThan(0);
        expect(spec.terminationGracePeriodSeconds, service).toBeGreaterThan(sleep + graceMs / 1000);
      }
    });

    it("probes each service on its ops port: liveness /healthz, readiness /readyz; startup by gRPC health, or /readyz over HTTPS", () => {
      for (const { service, container } of serviceContainers(objects)) {
        const tls = (container.env as Manifest[]).some((v) => v.name === "TLS_DIR");
        const scheme = tls ? "HTTPS" : "HTTP";
        expect(container.livenessProbe.httpGet, service).toEqual({ path: "/healthz", port: "ops", scheme });
        expect(container.readinessProbe.httpGet, service).toEqual({ path: "/readyz", port: "ops", scheme });
        // The kubelet's gRPC probe speaks cleartext only.
        if (tls) expect(container.startupProbe.httpGet, service).toEqual({ path: "/readyz", port: "ops", scheme });
        else expect(container.startupProbe.grpc, service).toEqual({ port: 8081 });
      }
    });

    it("runs the services with AMQP_TOPOLOGY=check against the in-chart broker, after a declare-only init container", () => {
      for (const { service, spec, container } of serviceContainers(objects)) {
        const topology = (container.env as Manifest[]).find((v) => v.name === "AMQP_TOPOLOGY")!.value;
        expect(topology, service).toBe(broker === "bundled" ? "check" : "declare");
        const declare = (spec.initContainers ?? []).find((c: Manifest) => c.name === "declare-topology");
        if (broker !== "bundled" || service === "producer") {
          expect(declare, service).toBeUndefined();
          continue;
        }
        // The handler's own image and configuration loader, in its declare-only mode.
        expect(declare.image).toBe(container.image);
        expect(declare.command).toBeUndefined();
        const env = resolveEnv(declare, objects, broker);
        expect(new URL(env.AMQP_URL!).username).toBe("switchyard-topology");
        expect(env.AMQP_DELIVERY_LIMIT).toBe((container.env as Manifest[]).find((v) => v.name === "AMQP_DELIVERY_LIMIT")!.value);
        expect(SERVICES.handler.load(env).AMQP_TOPOLOGY).toBe("declare-and-exit");
      }
    });
  });

  describe("per scenario", () => {
    it("defaults: a development broker with a generated user, never guest", async () => {
      const { objects } = await render(bin);
      const secret = get(objects, "Secret", "switchyard-rabbitmq");
      const data = secret.stringData as Record<string, string>;
      expect(data.username).toBe("switchyard");
      const passwords = ["password", "topology-password", "producer-password", "handler-password"].map((key) => data[key]!);
      for (const password of passwords) expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
      expect(new Set(passwords).size, "a password per user").toBe(4);
      for (const role of ["topology", "producer", "handler"]) {
        const parsed = new URL(data[`${role}-url`]!);
        expect([parsed.protocol, parsed.username, parsed.password, parsed.hostname, parsed.port, parsed.pathname]).toEqual([
          "amqp:",
          `switchyard-${role}`,
          data[`${role}-password`],
          "switchyard-rabbitmq.switchyard.svc",
          "5672",
          "/%2F",
        ]);
        expect(data[`${role}-username`]).toBe(`switchyard-${role}`);
      }
      // The broker loads its users from definitions at boot: each with its password and
      // exactly the permissions the services' code declares least-privilege.
      const definitions = JSON.parse(data["definitions.json"]!) as {
        users: Array<{ name: string; password: string; tags: string[] }>;
        permissions: Array<{ user: string; vhost: string; configure: string; write: string; read: string }>;
        vhosts: Array<{ name: string }>;
      };
      expect(definitions.vhosts).toEqual([{ name: "/" }]);
      expect(definitions.users).toEqual([
        { name: "switchyard", password: data.password, tags: ["administrator"] },
        { name: "switchyard-topology", password: data["topology-password"], tags: [] },
        { name: "switchyard-producer", password: data["producer-password"], tags: ["monitoring"] },
        { name: "switchyard-handler", password: data["handler-password"], tags: [] },
      ]);
      const permissionsOf = (user: string) => {
        const { configure, write, read } = definitions.permissions.find((p) => p.user === user && p.vhost === "/")!;
        return { configure, write, read };
      };
      expect(permissionsOf("switchyard-producer")).toEqual(BROKER_PERMISSIONS.producer);
      expect(permissionsOf("switchyard-handler")).toEqual(BROKER_PERMISSIONS.handler);
      expect(permissionsOf("switchyard-topology")).toEqual(BROKER_PERMISSIONS.topology);
      expect(data["default_user.conf"], "definitions replace the default user").toBeUndefined();
      const broker = get(objects, "StatefulSet", "switchyard-rabbitmq");
      const container = broker.spec.template.spec.containers[0];
      expect(container.image).toMatch(/^rabbitmq:4\.\d+-management$/);
      const conf = get(objects, "ConfigMap", "switchyard-rabbitmq").data as Record<string, string>;
      expect(conf.enabled_plugins).toContain("rabbitmq_prometheus");
      expect(conf["90-switchyard.conf"]).toContain("prometheus.tcp.port = 15692");
      expect(conf["90-switchyard.conf"]).toContain("load_definitions = /etc/rabbitmq/definitions/definitions.json");
      const definitionsMount = container.volumeMounts.find((m: Manifest) => m.name === "definitions");
      expect(definitionsMount).toEqual({ name: "definitions", mountPath: "/etc/rabbitmq/definitions", readOnly: true });
      // Handler and producer render their own deployments; the helm test pod is a hook.
      const hook = get(objects, "Pod", "switchyard-test-handler");
      expect(hook.metadata.annotations["helm.sh/hook"]).toBe("test");
      expect(ofKind(objects, "HorizontalPodAutoscaler")).toEqual([]);
      expect(ofKind(objects, "NetworkPolicy")).toEqual([]);
      expect(ofKind(objects, "ServiceMonitor")).toEqual([]);
    });

    it("kind: NodePorts for AMQP and the management UI only; broker metrics stay on a ClusterIP Service", async () => {
      const { objects } = await render(bin, { files: [KIND] });
      const broker = get(objects, "Service", "switchyard-rabbitmq");
      expect(broker.spec.type).toBe("NodePort");
      // A NodePort Service publishes every port it has on the node, chosen or not.
      expect(broker.spec.ports.map((p: Manifest) => [p.name, p.nodePort])).toEqual([
        ["amqp", 30672],
        ["management", 31672],
      ]);
      const metrics = get(objects, "Service", "switchyard-rabbitmq-metrics");
      expect(metrics.spec.type).toBe("ClusterIP");
      expect(metrics.spec.ports.map((p: Manifest) => [p.name, p.port])).toEqual([["prometheus", 15692]]);
    });

    it("production: no in-chart broker, the handler on an HPA, NetworkPolicies", async () => {
      const { objects } = await render(bin, { files: ["charts/switchyard/ci/production-values.yaml"] });
      expect(objects.filter((o) => component(o) === "rabbitmq")).toEqual([]);
      const hpa = get(objects, "HorizontalPodAutoscaler", "switchyard-handler");
      expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([2, 6]);
      expect(ofKind(objects, "NetworkPolicy").map((p) => p.metadata.name).sort()).toEqual([
        "switchyard-handler",
        "switchyard-producer",
      ]);
      const handler = get(objects, "Deployment", "switchyard-handler").spec.template.spec;
      expect(handler.containers[0].image).toBe(
        "registry.example.com/switchyard/switchyard-handler:0.1.0@sha256:0000000000000000000000000000000000000000000000000000000000000000",
      );
      expect(handler.imagePullSecrets).toEqual([{ name: "registry" }]);
      // The handler admits the producer and the helm test, not everyone.
      const policy = get(objects, "NetworkPolicy", "switchyard-handler");
      const components = policy.spec.ingress[0].from.map((peer: Manifest) => peer.podSelector?.matchLabels["app.kubernetes.io/component"]);
      expect(components).toEqual(["producer", "test"]);
      const test = get(objects, "Pod", "switchyard-test-handler");
      expect(component(test)).toBe("test");
    });

    it("monitoring: jobs named after components, per-queue broker metrics, rules and dashboards from files/", async () => {
      const { objects } = await render(bin, { files: ["charts/switchyard/ci/monitoring-values.yaml"] });
      const monitors = ofKind(objects, "ServiceMonitor");
      expect(monitors.map((m) => m.metadata.name).sort()).toEqual([
        "switchyard-handler",
        "switchyard-producer",
        "switchyard-rabbitmq",
      ]);
      for (const monitor of monitors) {
        expect(monitor.spec.jobLabel).toBe("app.kubernetes.io/component");
        expect(monitor.metadata.labels.release).toBe("kube-prometheus-stack");
        for (const endpoint of monitor.spec.endpoints) expect(endpoint.interval).toBe("30s");
      }
      // The broker's monitor scrapes its metrics Service, not the one users reach.
      const brokerMonitor = get(objects, "ServiceMonitor", "switchyard-rabbitmq");
      const scraped = ofKind(objects, "Service").filter((s) => matches(brokerMonitor.spec.selector.matchLabels, s.metadata.labels));
      expect(scraped.map((s) => s.metadata.name)).toEqual(["switchyard-rabbitmq-metrics"]);
      const broker = brokerMonitor.spec.endpoints as Manifest[];
      expect(broker.map((e) => [e.port, e.path])).toEqual([
        ["prometheus", "/metrics"],
        ["prometheus", "/metrics/detailed"],
      ]);
      expect(broker[1]!.params.family).toEqual(
        expect.arrayContaining(["queue_coarse_metrics", "queue_consumer_count"]),
      );
      const rule = get(objects, "PrometheusRule", "switchyard");
      const file = parse(readFileSync(join(CHART, "files/rules/switchyard.rules.yaml"), "utf8"));
      expect(rule.spec).toEqual(file);
      expect(rule.metadata.labels.release).toBe("kube-prometheus-stack");
      const dashboards = get(objects, "ConfigMap", "switchyard-dashboards");
      expect(dashboards.metadata.labels.grafana_dashboard).toBe("1");
      expect(Object.keys(dashboards.data).length).toBeGreaterThan(0);
      for (const [key, json] of Object.entries(dashboards.data as Record<string, string>)) {
        expect(key).toMatch(/\.json$/);
        expect(() => JSON.parse(json), key).not.toThrow();
      }
    });

    it("every setting: the values reach the services, and the producer learns the handler's payload limit", async () => {
      const { objects } = await render(bin, { files: ["charts/switchyard/ci/all-settings-values.yaml"] });
      const values = parse(readFileSync(join(CHART, "ci/all-settings-values.yaml"), "utf8"));
      for (const { service, spec, container } of serviceContainers(objects)) {
        const env = Object.fromEntries((container.env as Manifest[]).map((v) => [v.name, v.value]));
        for (const [name, value] of Object.entries(values[service].env as Record<string, unknown>)) {
          expect(env[name], `${service} ${name}`).toBe(String(value));
        }
        const shutdown = values[service].shutdown;
        expect(env.SHUTDOWN_GRACE_MS).toBe(String(shutdown.graceSeconds * 1000));
        expect(spec.terminationGracePeriodSeconds).toBe(shutdown.graceSeconds + shutdown.preStopSleepSeconds + 5);
      }
      const producer = get(objects, "Deployment", "switchyard-producer").spec.template.spec.containers[0];
      const env = Object.fromEntries((producer.env as Manifest[]).map((v) => [v.name, v.value]));
      expect(env.HANDLER_MAX_PAYLOAD_BYTES).toBe("65536");
      expect(env.HANDLER_HTTP_URL).toBe("https://switchyard-handler:8080");
      expect(env.HANDLER_GRPC_URL).toBe("https://switchyard-handler:8081");
      const claim = get(objects, "StatefulSet", "switchyard-rabbitmq").spec.volumeClaimTemplates[0];
      expect([claim.spec.storageClassName, claim.spec.resources.requests.storage]).toEqual(["standard", "1Gi"]);
    });

    it("every service setting is either set by the chart or open to values, and nothing else", async () => {
      const { objects } = await render(bin, { files: ["charts/switchyard/ci/all-settings-values.yaml"] });
      const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8"));
      for (const { service, container } of serviceContainers(objects)) {
        const configurable = Object.keys(schema.properties[service].properties.env.properties);
        const byChart = (container.env as Manifest[]).map((v) => v.name).filter((name) => !configurable.includes(name));
        const reachable = new Set([...byChart, ...configurable, "AMQP_URL"]);
        expect([...reachable].sort(), service).toEqual([...SERVICES[service].keys].sort());
      }
    });
  });

  describe("tls.enabled (ci/tls-values.yaml: a Secret per service, mutual TLS, NetworkPolicies, ServiceMonitors)", () => {
    let objects: Manifest[];
    beforeAll(async () => {
      ({ objects } = await render(bin, { files: ["charts/switchyard/ci/tls-values.yaml"] }));
    });
    const envOf = (container: Manifest) => Object.fromEntries((container.env as Manifest[]).map((v) => [v.name, v.value]));

    it("mounts each service's kubernetes.io/tls Secret as a whole directory, so renewals reach the pod", () => {
      const secrets = { handler: "switchyard-tls", producer: "switchyard-producer-tls" };
      for (const { service, spec, container } of serviceContainers(objects)) {
        const mount = container.volumeMounts.find((m: Manifest) => m.name === "tls");
        expect(mount, service).toEqual({ name: "tls", mountPath: TLS_MOUNT, readOnly: true });
        expect(mount.subPath, "a subPath mount is never updated by the kubelet").toBeUndefined();
        const volume = spec.volumes.find((v: Manifest) => v.name === "tls");
        expect(volume.secret.secretName, service).toBe(secrets[service]);
        expect(volume.secret.items.map((item: Manifest) => item.key).sort()).toEqual(["ca.crt", "tls.crt", "tls.key"]);
      }
    });

    it("turns on TLS everywhere, mutual TLS and the allow-list on the handler's data ports, https:// to the handler", () => {
      const handler = envOf(get(objects, "Deployment", "switchyard-handler").spec.template.spec.containers[0]);
      expect([handler.TLS_DIR, handler.TLS_CLIENT_CA, handler.TLS_ALLOWED_CLIENTS, handler.OPS_PORT]).toEqual([
        TLS_MOUNT,
        `${TLS_MOUNT}/ca.crt`,
        "CN=switchyard-producer",
        "8082",
      ]);
      const producer = envOf(get(objects, "Deployment", "switchyard-producer").spec.template.spec.containers[0]);
      expect([producer.TLS_DIR, producer.HANDLER_TLS_DIR, producer.TLS_CLIENT_CA]).toEqual([TLS_MOUNT, TLS_MOUNT, undefined]);
      expect(producer.HANDLER_HTTP_URL).toBe("https://switchyard-handler:8080");
      expect(producer.HANDLER_GRPC_URL).toBe("https://switchyard-handler:8081");
      expect(producer.HANDLER_HTTP_URLS).toBe("https://switchyard-handler-headless:8080");
      expect(producer.HANDLER_GRPC_URLS).toBe("https://switchyard-handler-headless:8081");
      // ObservationService lives on the handler's ops port.
      expect(producer.HANDLER_OBSERVATION_URLS).toBe("https://switchyard-handler-headless:8082");
    });

    it("leaves client certificates off without tls.clientAuth", async () => {
      const { objects: plain } = await render(bin, { values: [{ tls: { enabled: true, secretName: "switchyard-tls" } }] });
      const handler = envOf(get(plain, "Deployment", "switchyard-handler").spec.template.spec.containers[0]);
      expect([handler.TLS_DIR, handler.TLS_CLIENT_CA, handler.TLS_ALLOWED_CLIENTS]).toEqual([TLS_MOUNT, undefined, undefined]);
      // Both services then share the one Secret.
      const producer = get(plain, "Deployment", "switchyard-producer").spec.template.spec;
      expect(producer.volumes.find((v: Manifest) => v.name === "tls").secret.secretName).toBe("switchyard-tls");
    });

    it("scrapes /metrics on the ops port over HTTPS, verifying the certificate with the Secret's ca.crt", () => {
      for (const name of ["switchyard-handler", "switchyard-producer"]) {
        const [endpoint] = get(objects, "ServiceMonitor", name).spec.endpoints as Manifest[];
        const secret = name === "switchyard-handler" ? "switchyard-tls" : "switchyard-producer-tls";
        expect(endpoint).toMatchObject({ port: "ops", path: "/metrics", scheme: "https" });
        expect(endpoint!.tlsConfig).toEqual({ ca: { secret: { name: secret, key: "ca.crt" } }, serverName: name });
      }
      for (const name of ["switchyard-handler", "switchyard-handler-headless", "switchyard-producer"]) {
        const ports = get(objects, "Service", name).spec.ports.map((p: Manifest) => [p.name, p.port, p.appProtocol]);
        expect(ports, name).toEqual([["http", 8080, "https"], ["grpc", 8081, "https"], ["ops", 8082, "https"]]);
      }
    });

    it("admits the producer to the handler's data ports, and only the producer and the scraper to the ops ports", () => {
      const handler = get(objects, "NetworkPolicy", "switchyard-handler").spec.ingress as Manifest[];
      const ports = (rule: Manifest) => rule.ports.map((p: Manifest) => p.port);
      const peers = (rule: Manifest) => rule.from.map((peer: Manifest) => peer.podSelector?.matchLabels["app.kubernetes.io/component"] ?? "scraper");
      expect(handler.map((rule) => [ports(rule), peers(rule)])).toEqual([
        [["http", "grpc"], ["producer", "test"]],
        [["ops"], ["producer", "scraper"]],
      ]);
      const producer = get(objects, "NetworkPolicy", "switchyard-producer").spec.ingress as Manifest[];
      expect(producer.map((rule) => ports(rule))).toEqual([["http", "grpc"], ["ops"]]);
      expect(producer[1]!.from).toEqual([{ namespaceSelector: {} }]);
    });

    it("runs helm test over HTTPS with the producer's Secret", () => {
      const hook = get(objects, "Pod", "switchyard-test-handler").spec;
      expect(hook.containers[0].command.slice(3)).toEqual(["https://switchyard-handler:8080", TLS_MOUNT]);
      expect(hook.volumes.find((v: Manifest) => v.name === "tls").secret.secretName).toBe("switchyard-producer-tls");
    });

    it("refuses tls.enabled without tls.secretName, and allow-list entries of another form", async () => {
      const missing = await template(bin, { values: [{ tls: { enabled: true } }] });
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain("at '/tls/secretName'");
      const wrong = await template(bin, { values: [{ tls: { enabled: true, secretName: "x", allowedClients: ["producer"] } }] });
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toContain("at '/tls/allowedClients/0'");
    });
  });

  describe("refuses what cannot work, saying which value to set", () => {
    it.each([
      [{ rabbitmq: { enabled: false } }, "amqp.existingSecret is required when rabbitmq.enabled is false"],
      [{ rabbitmq: { enabled: false }, amqp: { existingSecret: "broker" } }, "amqp.host is required"],
      [{ handler: { autoscaling: { enabled: true, minReplicas: 5, maxReplicas: 2 } } }, "minReplicas must not exceed"],
      [{ handler: { autoscaling: { enabled: true }, resources: { requests: { cpu: null } } } }, "needs handler.resources.requests.cpu"],
    ])("%j", async (values, message) => {
      const result = await template(bin, { values: [values] });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(message);
    });
  });
});

// NOTES.txt is only rendered by install; Helm 4's client-side dry run needs no cluster.
describe("NOTES.txt (helm v4 install --dry-run=client)", () => {
  it.each(SCENARIOS)("$name: renders, with addresses that work for the install", async ({ files }) => {
    const result = await run(HELMS[0].bin, [
      "install",
      "switchyard",
      CHART,
      "--dry-run=client",
      "--namespace",
      "switchyard",
      ...files.flatMap((file) => ["--values", join(ROOT, file)]),
    ]);
    expect(result.code, result.stderr).toBe(0);
    const notes = result.stdout.slice(result.stdout.indexOf("\nNOTES:\n"));
    expect(notes).toContain("helm test switchyard -n switchyard");
    expect(notes).not.toMatch(/<no value>|%!/);
    const tls = files.some((file) => parse(readFileSync(join(ROOT, file), "utf8"))?.tls?.enabled === true);
    const producerUrl = `${tls ? "https" : "http"}://127.0.0.1:${files.includes(KIND) ? 30080 : 8080}`;
    expect(notes).toContain(`npm run compare -- --producer-url ${producerUrl}`);
    if (tls) expect(notes).toContain("NODE_EXTRA_CA_CERTS=ca.crt");
    if (!files.includes(KIND)) expect(notes).toContain("port-forward svc/switchyard-producer 8080:8080");
  });
});
