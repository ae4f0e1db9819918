import { X509Certificate } from "node:crypto";
import { request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { connect as tlsConnect } from "node:tls";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { HandlerService, ObservationService, WorkSchema } from "@switchyard/contracts";
import { ConfigError, createLogger } from "@switchyard/platform";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/broker.ts";
import { build, type HandlerApp } from "../../services/handler/src/app.ts";
import { loadHandlerConfig } from "../../services/handler/src/config.ts";
import { build as buildProducer } from "../../services/producer/src/app.ts";
import { loadProducerConfig } from "../../services/producer/src/config.ts";
import { createPki, createSecretMount, type IssuedCertificate, type Pki, type SecretMount, type TestCa } from "./support/pki.ts";

// The ops listener (OPS_PORT): /healthz, /readyz, /metrics and ObservationService move
// there and leave the data listeners; under TLS it never asks for a client certificate.
const OPS_PATHS = ["/healthz", "/readyz", "/metrics"] as const;
const silent = createLogger({ service: "handler", level: "silent" });

/** GET `url`; resolves with the status code. `ca` is for https:// URLs. */
async function get(url: string, ca?: Buffer): Promise<number | undefined> {
  const agent = ca ? new HttpsAgent({ ca, keepAlive: false }) : undefined;
  try {
    return await new Promise((resolve, reject) => {
      const request = (url.startsWith("https:") ? httpsRequest : httpRequest)(url, agent ? { agent } : {}, (response) => {
        response.resume();
        resolve(response.statusCode);
      });
      request.once("error", reject);
      request.end();
    });
  } finally {
    agent?.destroy();
  }
}

/** ObservationService.GetStatus at `baseUrl`; resolves with the handler id, or the error. */
async function observe(baseUrl: string, tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {}): Promise<string | ConnectError> {
  const agent = baseUrl.startsWith("https:") ? new HttpsAgent({ ...tls, keepAlive: false }) : undefined;
  const client = createClient(ObservationService, createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: agent ? { agent } : {} }));
  try {
    return (await client.getStatus({}, { timeoutMs: 5_000 })).handlerId;
  } catch (error) {
    return ConnectError.from(error);
  } finally {
    agent?.destroy();
  }
}

/** Handle over Connect at `baseUrl`; resolves undefined when it worked, else the error. */
async function handle(baseUrl: string, tls: { ca?: Buffer; cert?: Buffer; key?: Buffer }): Promise<ConnectError | undefined> {
  const agent = new HttpsAgent({ ...tls, keepAlive: false });
  const client = createClient(HandlerService, createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { agent } }));
  try {
    await client.handle({ work: create(WorkSchema, { id: `ops-${process.pid}-${Math.random()}` }) }, { timeoutMs: 5_000 });
    return undefined;
  } catch (error) {
    return ConnectError.from(error);
  } finally {
    agent.destroy();
  }
}

/** The certificate presented on a fresh TLS connection to `url`, presenting none of our own. */
async function presented(url: string, ca: Buffer): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: "127.0.0.1", port: Number(new URL(url).port), servername: "localhost", ca }, () => {
      const peer = socket.getPeerX509Certificate();
      socket.destroy();
      peer ? resolve(peer) : reject(new Error("no certificate"));
    });
    socket.once("error", reject);
  });
}

describe("ops endpoints without OPS_PORT", () => {
  it("stay on the HTTP listener, with ObservationService on the data listeners, as before", async () => {
    const app = await build(loadHandlerConfig({ BIND_HOST: "127.0.0.1", HANDLER_ID: "no-ops" }), silent);
    try {
      expect(app.ops).toBeUndefined();
      const httpUrl = await app.http.listen({ host: "127.0.0.1", port: 0 });
      expect(await get(`${httpUrl}/healthz`)).toBe(200);
      expect(await get(`${httpUrl}/metrics`)).toBe(200);
      expect(await observe(httpUrl)).toBe("no-ops");
    } finally {
      await app.close();
    }
  });
});

describe("ops listener in cleartext (OPS_PORT set)", () => {
  let app: HandlerApp;
  let httpUrl: string;
  let h2cUrl: string;
  let opsUrl: string;

  beforeAll(async () => {
    app = await build(loadHandlerConfig({ BIND_HOST: "127.0.0.1", OPS_PORT: "0", HANDLER_ID: "ops-plain", SHUTDOWN_GRACE_MS: "3000" }), silent);
    httpUrl = await app.http.listen({ host: "127.0.0.1", port: 0 });
    h2cUrl = await app.h2c.listen({ host: "127.0.0.1", port: 0 });
    opsUrl = await app.ops!.listen({ host: "127.0.0.1", port: 0 });
  });
  afterAll(async () => app?.close());

  it("answers /healthz, /readyz and /metrics on the ops port and 404 on the data ports", async () => {
    expect(await get(`${opsUrl}/healthz`)).toBe(200);
    // Not ready: the broker was never connected. Answered all the same.
    expect(await get(`${opsUrl}/readyz`)).toBe(503);
    expect(await get(`${opsUrl}/metrics`)).toBe(200);
    for (const path of OPS_PATHS) expect(await get(`${httpUrl}${path}`)).toBe(404);
  });

  it("serves ObservationService on the ops port only, and the data plane on the data ports only", async () => {
    expect(await observe(opsUrl)).toBe("ops-plain");
    const overConnect = await observe(httpUrl);
    expect(overConnect).toBeInstanceOf(ConnectError);
    expect((overConnect as ConnectError).code).toBe(Code.Unimplemented);
    const overGrpc = createClient(ObservationService, createGrpcTransport({ baseUrl: h2cUrl }));
    await expect(overGrpc.getStatus({}, { timeoutMs: 5_000 })).rejects.toMatchObject({ code: Code.Unimplemented });
    const client = createClient(HandlerService, createConnectTransport({ baseUrl: opsUrl, httpVersion: "1.1" }));
    await expect(client.handle({ work: create(WorkSchema, { id: "not-here" }) })).rejects.toMatchObject({ code: Code.Unimplemented });
  });

  it("makes the ops listener a readiness condition of its own", () => {
    expect(app.readiness.snapshot()).toMatchObject({ ops_listener: true, http_listener: true, h2c_listener: true });
  });
});

describe("ops listener under mutual TLS", () => {
  let pki: Pki;
  let ca: TestCa;
  let producer: IssuedCertificate;
  let server: IssuedCertificate;
  let mount: SecretMount;
  let app: HandlerApp;
  let httpsUrl: string;
  let opsUrl: string;

  beforeAll(async () => {
    pki = createPki();
    ca = await pki.createCa("ops-ca");
    server = await ca.issue({ commonName: "handler", altNames: ["DNS:localhost", "IP:127.0.0.1"] });
    producer = await ca.issue({ commonName: "producer" });
    mount = createSecretMount(pki.dir, "handler-tls", { "tls.crt": server.cert, "tls.key": server.key, "ca.crt": ca.cert });
    const config = loadHandlerConfig({
      BIND_HOST: "127.0.0.1",
      OPS_PORT: "0",
      HANDLER_ID: "ops-tls",
      TLS_DIR: mount.dir,
      TLS_CLIENT_CA: `${mount.dir}/ca.crt`,
      TLS_ALLOWED_CLIENTS: "CN=producer",
      SHUTDOWN_GRACE_MS: "3000",
    });
    app = await build(config, silent);
    httpsUrl = await app.http.listen({ host: "127.0.0.1", port: 0 });
    await app.h2c.listen({ host: "127.0.0.1", port: 0 });
    opsUrl = await app.ops!.listen({ host: "127.0.0.1", port: 0 });
  });
  afterAll(async () => {
    await app?.close();
    pki?.destroy();
  });

  it("serves the ops endpoints and ObservationService over HTTPS to a caller without a client certificate", async () => {
    expect(opsUrl).toMatch(/^https:/);
    expect(await get(`${opsUrl}/healthz`, ca.cert)).toBe(200);
    expect(await get(`${opsUrl}/metrics`, ca.cert)).toBe(200);
    expect(await observe(opsUrl, { ca: ca.cert })).toBe("ops-tls");
    for (const path of OPS_PATHS) expect(await get(`${httpsUrl}${path}`, ca.cert)).toBe(404);
  });

  it("still requires a client certificate on the data listener", async () => {
    const refused = await handle(httpsUrl, { ca: ca.cert });
    expect([refused?.code, refused?.rawMessage]).toEqual([Code.Unauthenticated, "a client certificate is required (mutual TLS)"]);
    expect(await handle(httpsUrl, { ca: ca.cert, cert: producer.cert, key: producer.key })).toBeUndefined();
  });

  it("refuses cleartext on the ops port", async () => {
    await expect(get(opsUrl.replace("https:", "http:"))).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(await get(`${opsUrl}/healthz`, ca.cert)).toBe(200);
  });

  it("gets renewed material with the data listeners, and still asks for no client certificate", async () => {
    const renewed = await ca.issue({ commonName: "handler-renewed", altNames: ["DNS:localhost", "IP:127.0.0.1"] });
    mount.update({ "tls.crt": renewed.cert, "tls.key": renewed.key, "ca.crt": ca.cert });
    await eventually(async () => (await presented(opsUrl, ca.cert)).subject === "CN=handler-renewed", 10_000);
    expect(await get(`${opsUrl}/readyz`, ca.cert)).toBe(503);
    expect(await observe(opsUrl, { ca: ca.cert })).toBe("ops-tls");
    const refused = await handle(httpsUrl, { ca: ca.cert });
    expect(refused?.code).toBe(Code.Unauthenticated);
  });
});

describe("the producer's ops listener", () => {
  it("takes /healthz, /readyz and /metrics off the HTTP listener when OPS_PORT is set", async () => {
    const app = await buildProducer(loadProducerConfig({ BIND_HOST: "127.0.0.1", OPS_PORT: "0", SHUTDOWN_GRACE_MS: "2000" }), silent);
    try {
      const httpUrl = await app.http.listen({ host: "127.0.0.1", port: 0 });
      const opsUrl = await app.ops!.listen({ host: "127.0.0.1", port: 0 });
      for (const path of OPS_PATHS) expect(await get(`${httpUrl}${path}`)).toBe(404);
      expect(await get(`${opsUrl}/healthz`)).toBe(200);
      expect(await get(`${opsUrl}/metrics`)).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe("OPS_PORT configuration", () => {
  it("refuses a port shared with a data listener, or not a port, naming OPS_PORT", () => {
    for (const env of [{ OPS_PORT: "8080" }, { OPS_PORT: "9000", H2C_PORT: "9000" }, { OPS_PORT: "http" }, { OPS_PORT: "70000" }]) {
      expect(() => loadHandlerConfig(env)).toThrow(ConfigError);
      try {
        loadProducerConfig(env);
      } catch (error) {
        expect((error as ConfigError).variable).toBe("OPS_PORT");
        expect((error as ConfigError).message.split("\n")).toHaveLength(1);
        continue;
      }
      expect.unreachable(`accepted ${JSON.stringify(env)}`);
    }
    expect(loadHandlerConfig({ OPS_PORT: "9090" }).OPS_PORT).toBe(9090);
    expect(loadHandlerConfig({}).OPS_PORT).toBeUndefined();
  });
});
