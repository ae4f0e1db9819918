import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { HandlerService, WorkSchema } from "@switchyard/contracts";
import { TOPOLOGY } from "@switchyard/platform";
import amqplib from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../support/process.ts";
import { createPki, type IssuedCertificate, type Pki, type TestCa } from "../security/support/pki.ts";
import { CHART, createRestrictedNamespace, getJson, helm, kubectl, portForward, readyPods, requireCluster, run, type PortForward } from "./support.ts";

// The chart with tls.enabled on a real cluster: a CA and cert-manager-shaped Secrets
// (type kubernetes.io/tls with ca.crt) made here with openssl, mutual TLS to the handler
// with an allow-list, HTTPS probes on the ops port, helm test and a comparison run over
// TLS; then the development broker's least-privilege users, as the services get them.

const RELEASE = "switchyard";
const VALUES = [
  "-f", "charts/switchyard/values-kind.yaml",
  "--set", "handler.service.type=ClusterIP", "--set", "producer.service.type=ClusterIP", "--set", "rabbitmq.service.type=ClusterIP",
  "--set", "producer.env.BACKGROUND_RATE_GRPC=0", "--set", "producer.env.BACKGROUND_RATE_CONNECT=0", "--set", "producer.env.BACKGROUND_RATE_AMQP=0",
  "--set", "tls.enabled=true", "--set", "tls.secretName=switchyard-tls", "--set", "tls.producerSecretName=switchyard-producer-tls",
  "--set", "tls.clientAuth=true", "--set", "tls.allowedClients={CN=switchyard-producer}",
];
let namespace: { name: string; delete(): Promise<void> };
let pki: Pki;
let ca: TestCa;
let producer: IssuedCertificate;
let caFile: string;
const scratch = mkdtempSync(join(tmpdir(), "switchyard-tls-cluster-"));
const forwards: PortForward[] = [];

/** A kubernetes.io/tls Secret with ca.crt, as cert-manager writes a Certificate's. */
async function tlsSecret(name: string, leaf: IssuedCertificate): Promise<void> {
  await kubectl([
    "-n", namespace.name, "create", "secret", "generic", name, "--type=kubernetes.io/tls",
    `--from-file=tls.crt=${leaf.certFile}`, `--from-file=tls.key=${leaf.keyFile}`, `--from-file=ca.crt=${ca.certFile}`,
  ]);
}

beforeAll(async () => {
  requireCluster();
  namespace = await createRestrictedNamespace("switchyard-tls");
  pki = createPki();
  ca = await pki.createCa("switchyard-cluster-ca");
  caFile = ca.certFile;
  const handler = await ca.issue({
    commonName: "switchyard-handler",
    altNames: ["DNS:switchyard-handler", "DNS:switchyard-handler-headless", `DNS:switchyard-handler.${namespace.name}.svc`],
  });
  // 127.0.0.1: the tests reach the producer through a port-forward.
  producer = await ca.issue({ commonName: "switchyard-producer", altNames: ["DNS:switchyard-producer", "IP:127.0.0.1"] });
  await tlsSecret("switchyard-tls", handler);
  await tlsSecret("switchyard-producer-tls", producer);
});

afterAll(async () => {
  for (const forward of forwards) await forward.close();
  if (namespace) {
    await run(`${ROOT}/.tools/bin/helm`, ["uninstall", RELEASE, "-n", namespace.name, "--wait", "--ignore-not-found"], { timeoutMs: 180_000 });
    await namespace.delete();
  }
  pki?.destroy();
  rmSync(scratch, { recursive: true, force: true });
}, 300_000);

async function forward(target: string, port: number): Promise<PortForward> {
  const opened = await portForward(namespace.name, target, port);
  forwards.push(opened);
  return opened;
}

/** GET over HTTPS, verifying the server as `servername` with the test CA; resolves with the status code. */
function httpsGet(url: string, servername: string): Promise<number | undefined> {
  const agent = new HttpsAgent({ ca: ca.cert, servername, keepAlive: false });
  return new Promise<number | undefined>((resolve, reject) => {
    const request = httpsRequest(url, { agent, timeout: 10_000 }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.once("timeout", () => request.destroy(new Error(`GET ${url}: no answer in 10 s`)));
    request.once("error", reject);
    request.end();
  }).finally(() => agent.destroy());
}

/** Handle over Connect JSON at `baseUrl`, verifying the handler by name; resolves with the error, if any. */
async function handle(baseUrl: string, client?: IssuedCertificate): Promise<ConnectError | undefined> {
  const agent = new HttpsAgent({ ca: ca.cert, servername: "switchyard-handler", keepAlive: false, ...(client && { cert: client.cert, key: client.key }) });
  const handler = createClient(HandlerService, createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { agent } }));
  try {
    await handler.handle({ work: create(WorkSchema, { id: `tls-cluster-${Date.now()}-${Math.random()}` }) }, { timeoutMs: 10_000 });
    return undefined;
  } catch (error) {
    return ConnectError.from(error);
  } finally {
    agent.destroy();
  }
}

/** The development broker's Secret, decoded. */
async function brokerSecret(): Promise<Record<string, string>> {
  const secret = await getJson(["secret", "-n", namespace.name, `${RELEASE}-rabbitmq`]);
  return Object.fromEntries(Object.entries(secret.data as Record<string, string>).map(([key, value]) => [key, Buffer.from(value, "base64").toString()]));
}

/** Runs `operation` on a channel as the user of `url` (its host replaced by the forward); resolves with the error that closed the channel, if any. */
async function asUser(url: string, amqp: PortForward, operation: (channel: amqplib.ConfirmChannel) => Promise<unknown>): Promise<Error | undefined> {
  const target = new URL(url);
  target.host = `127.0.0.1:${amqp.port}`;
  const connection = await amqplib.connect(target.href);
  connection.on("error", () => undefined);
  try {
    const channel = await connection.createConfirmChannel();
    const closed = new Promise<Error>((resolve) => channel.on("error", resolve));
    return await Promise.race([operation(channel).then(() => undefined, (error: Error) => error), closed]);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

describe("charts/switchyard with tls.enabled and mutual TLS on a real cluster", () => {
  it("installs with --wait: every pod Ready through HTTPS probes on the ops port", async () => {
    await helm(["install", RELEASE, CHART, "-n", namespace.name, ...VALUES, "--wait", "--timeout", "5m"]);
    expect(await readyPods(namespace.name, `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=handler`)).toHaveLength(1);
    expect(await readyPods(namespace.name, `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=producer`)).toHaveLength(1);
    for (const component of ["handler", "producer"]) {
      const deployment = await getJson(["deployment", "-n", namespace.name, `${RELEASE}-${component}`]);
      const container = deployment.spec.template.spec.containers[0];
      for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
        expect(container[probe].httpGet, `${component} ${probe}`).toMatchObject({ port: "ops", scheme: "HTTPS" });
      }
    }
    // The declare-only init container declared the topology with its own user.
    const [pod] = (await getJson(["pods", "-n", namespace.name, "-l", "app.kubernetes.io/component=handler"])).items;
    const declare = pod.status.initContainerStatuses.find((status: any) => status.name === "declare-topology");
    expect(declare.state.terminated?.exitCode).toBe(0);
  }, 360_000);

  it("passes helm test over HTTPS with the producer's client certificate", async () => {
    const output = await helm(["test", RELEASE, "-n", namespace.name, "--logs", "--timeout", "2m"]);
    expect(output).toMatch(/Phase:\s+Succeeded/);
    expect(output).toMatch(/receipt from handler switchyard-handler-\S+ over https/);
  }, 180_000);

  it("compare through the producer over HTTPS: every transport sends, nothing lost", async () => {
    const producerApi = await forward(`svc/${RELEASE}-producer`, 8080);
    writeFileSync(join(scratch, "ca.crt"), ca.cert);
    const result = await run(
      process.execPath,
      ["tools/compare/src/cli.ts", "--producer-url", producerApi.url.replace("http:", "https:"), "--quick", "--payloads", "64", "--json", "--out", `${ROOT}/results/cluster-tls`],
      { timeoutMs: 240_000, env: { NODE_EXTRA_CA_CERTS: caFile } },
    );
    expect(result.code, `compare exited ${result.code}\n${result.stderr}`).toBe(0);
    const rows = JSON.parse(result.stdout).rows as Array<{ transport: string; acknowledged: number; errors: number; lost?: number }>;
    expect(rows.map((row) => row.transport).sort()).toEqual(["amqp", "connect", "grpc"]);
    for (const row of rows) {
      expect(row.acknowledged, `${row.transport} acknowledged`).toBeGreaterThan(0);
      expect(row.errors, `${row.transport} errors`).toBe(0);
      // Established from the handler's ObservationService on its ops port, over HTTPS.
      expect(row.lost, `${row.transport} lost`).toBe(0);
    }
  }, 300_000);

  it("refuses a caller without a client certificate on the handler's data port; its ops port asks for none", async () => {
    const data = await forward(`svc/${RELEASE}-handler`, 8080);
    const refused = await handle(data.url.replace("http:", "https:"));
    expect([refused?.code, refused?.rawMessage]).toEqual([Code.Unauthenticated, "a client certificate is required (mutual TLS)"]);
    expect(await handle(data.url.replace("http:", "https:"), producer)).toBeUndefined();
    // A certificate the CA issued to someone not on the allow-list.
    const intruder = await ca.issue({ commonName: "intruder" });
    expect((await handle(data.url.replace("http:", "https:"), intruder))?.code).toBe(Code.PermissionDenied);
    const ops = await forward(`svc/${RELEASE}-handler`, 8082);
    expect(await httpsGet(`${ops.url.replace("http:", "https:")}/readyz`, "switchyard-handler")).toBe(200);
    expect(await httpsGet(`${ops.url.replace("http:", "https:")}/metrics`, "switchyard-handler")).toBe(200);
    // The ops endpoints left the data port.
    const agent = new HttpsAgent({ ca: ca.cert, servername: "switchyard-handler", cert: producer.cert, key: producer.key });
    const status = await new Promise<number | undefined>((resolve, reject) => {
      httpsRequest(`${data.url.replace("http:", "https:")}/metrics`, { agent }, (response) => {
        response.resume();
        resolve(response.statusCode);
      }).once("error", reject).end();
    }).finally(() => agent.destroy());
    expect(status).toBe(404);
  }, 120_000);
});

describe("the development broker's least-privilege users", () => {
  it("has one user per role, each with its own password, and no guest", async () => {
    const secret = await brokerSecret();
    const management = await forward(`svc/${RELEASE}-rabbitmq`, 15672);
    const auth = `Basic ${Buffer.from(`${secret.username}:${secret.password}`).toString("base64")}`;
    const response = await fetch(`${management.url}/api/users`, { headers: { authorization: auth }, signal: AbortSignal.timeout(10_000) });
    expect(response.status).toBe(200);
    const users = ((await response.json()) as Array<{ name: string }>).map((user) => user.name).sort();
    expect(users).toEqual(["switchyard", "switchyard-handler", "switchyard-producer", "switchyard-topology"]);
    const passwords = ["password", "producer-password", "handler-password", "topology-password"].map((key) => secret[key]);
    expect(new Set(passwords).size).toBe(4);
  });

  it("refuses the producer's user consuming, and the handler's user publishing work", async () => {
    const secret = await brokerSecret();
    const amqp = await forward(`svc/${RELEASE}-rabbitmq`, 5672);
    for (const queue of [TOPOLOGY.workQueue, TOPOLOGY.deadQueue]) {
      const error = await asUser(secret["producer-url"]!, amqp, (channel) => channel.consume(queue, () => undefined));
      expect(error?.message).toMatch(/ACCESS_REFUSED - (read )?access to queue '.*' in vhost '\/' refused for user 'switchyard-producer'/);
    }
    const published = await asUser(secret["handler-url"]!, amqp, (channel) => {
      channel.publish(TOPOLOGY.workExchange, TOPOLOGY.routingKey, Buffer.from("not allowed"));
      return channel.waitForConfirms();
    });
    expect(published?.message).toMatch(/ACCESS_REFUSED - (write )?access to exchange 'switchyard.work' in vhost '\/' refused for user 'switchyard-handler'/);
    for (const url of [secret["producer-url"]!, secret["handler-url"]!]) {
      const declared = await asUser(url, amqp, (channel) => channel.assertQueue("switchyard.intruder"));
      expect(declared?.message).toMatch(/ACCESS_REFUSED/);
    }
  }, 60_000);

  it("keeps every password across an upgrade", async () => {
    const before = await brokerSecret();
    await helm(["upgrade", RELEASE, CHART, "-n", namespace.name, ...VALUES, "--set", "handler.env.LOG_LEVEL=debug", "--wait", "--timeout", "5m"]);
    const after = await brokerSecret();
    for (const key of ["password", "producer-password", "handler-password", "topology-password", "definitions.json"]) {
      expect(after[key], key).toBe(before[key]);
    }
    const output = await helm(["test", RELEASE, "-n", namespace.name, "--timeout", "2m"]);
    expect(output).toMatch(/Phase:\s+Succeeded/);
  }, 420_000);
});
