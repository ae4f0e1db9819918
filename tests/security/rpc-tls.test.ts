import { X509Certificate } from "node:crypto";
import { Agent as HttpsAgent, get as httpsGet } from "node:https";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { create } from "@bufbuild/protobuf";
import { HandlerService, WorkSchema, type Work } from "@switchyard/contracts";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "@switchyard/contracts/health";
import { createLogger } from "@switchyard/platform";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/broker.ts";
import { build, type HandlerApp } from "../../services/handler/src/app.ts";
import { loadHandlerConfig } from "../../services/handler/src/config.ts";
import { build as buildProducer } from "../../services/producer/src/app.ts";
import { loadProducerConfig } from "../../services/producer/src/config.ts";
import { ConnectSender } from "../../services/producer/src/senders/connect.ts";
import { GrpcSender } from "../../services/producer/src/senders/grpc.ts";
import type { ClientTlsOptions } from "../../services/producer/src/senders/sender.ts";
import { createPki, createSecretMount, type IssuedCertificate, type Pki, type SecretMount, type TestCa } from "./support/pki.ts";

// A handler with mutual TLS on both listeners, its material mounted the kubelet's way,
// and callers of every kind: allowed, unknown CA, expired, without a certificate, not on
// the allow-list, cleartext.
let pki: Pki;
let ca: TestCa;
let otherCa: TestCa;
let server: IssuedCertificate;
let producer: IssuedCertificate;
let mount: SecretMount;
let app: HandlerApp;
let httpsUrl: string;
let h2Url: string;
// The service's own logger, at warn: its serializers run, as in production.
const logLines: string[] = [];

beforeAll(async () => {
  pki = createPki();
  [ca, otherCa] = [await pki.createCa("switchyard-ca"), await pki.createCa("other-ca")];
  server = await ca.issue({ commonName: "handler", altNames: ["DNS:localhost", "IP:127.0.0.1"] });
  producer = await ca.issue({ commonName: "producer", altNames: ["URI:spiffe://switchyard/producer"] });
  mount = createSecretMount(pki.dir, "handler-tls", { "tls.crt": server.cert, "tls.key": server.key, "ca.crt": ca.cert });
  const config = loadHandlerConfig({
    BIND_HOST: "127.0.0.1",
    HTTP_PORT: "0",
    H2C_PORT: "0",
    TLS_DIR: mount.dir,
    TLS_CLIENT_CA: `${mount.dir}/ca.crt`,
    TLS_ALLOWED_CLIENTS: "URI:spiffe://switchyard/producer, CN=compare",
    SHUTDOWN_GRACE_MS: "3000",
  });
  app = await build(config, createLogger({ service: "handler", level: "warn", destination: { write: (line: string) => void logLines.push(line) } }));
  httpsUrl = await app.http.listen({ host: "127.0.0.1", port: 0 });
  h2Url = await app.h2c.listen({ host: "127.0.0.1", port: 0 });
});

afterAll(async () => {
  await app?.close();
  pki?.destroy();
});

let sequence = 0;
const work = (): Work => create(WorkSchema, { id: `tls-${process.pid}-${sequence++}`, payload: new Uint8Array(8) });
const asProducer = (): ClientTlsOptions => ({ ca: ca.cert, cert: producer.cert, key: producer.key });

/** One Handle call over Connect JSON (HTTPS, HTTP/1.1) with `tls`; resolves with the error, if any. */
async function callConnect(tls: ClientTlsOptions, baseUrl = httpsUrl): Promise<ConnectError | undefined> {
  const agent = baseUrl.startsWith("https:") ? new HttpsAgent({ ...tls, keepAlive: false }) : undefined;
  const client = createClient(HandlerService, createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: agent ? { agent } : {} }));
  try {
    await client.handle({ work: work() }, { timeoutMs: 5_000 });
    return undefined;
  } catch (error) {
    return ConnectError.from(error);
  } finally {
    agent?.destroy();
  }
}

/** One Handle call over gRPC (HTTP/2, TLS) with `tls`; resolves with the error, if any. */
async function callGrpc(tls: ClientTlsOptions, service: "handler" | "health" = "handler", baseUrl = h2Url): Promise<ConnectError | undefined> {
  const transport = createGrpcTransport({ baseUrl, nodeOptions: tls });
  try {
    if (service === "health") {
      const answer = await createClient(Health, transport).check({}, { timeoutMs: 5_000 });
      expect(answer.status).toBeOneOf([Serving.SERVING, Serving.NOT_SERVING]);
    } else {
      await createClient(HandlerService, transport).handle({ work: work() }, { timeoutMs: 5_000 });
    }
    return undefined;
  } catch (error) {
    return ConnectError.from(error);
  }
}

/** The certificate the server presents to a fresh TLS connection, and the protocol ALPN chose. */
async function handshake(url: string, options: ConnectionOptions): Promise<{ certificate: X509Certificate; alpn: string | false }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: "127.0.0.1", port: Number(port), servername: "localhost", ca: ca.cert, ...options }, () => {
      const peer = socket.getPeerX509Certificate();
      const alpn = socket.alpnProtocol ?? false;
      socket.destroy();
      peer ? resolve({ certificate: peer, alpn }) : reject(new Error("no certificate"));
    });
    socket.once("error", reject);
  });
}

/** Both transports still serve an allowed caller. */
async function expectStillServing(): Promise<void> {
  expect(await callConnect(asProducer())).toBeUndefined();
  expect(await callGrpc(asProducer())).toBeUndefined();
}

describe("RPC listeners with mutual TLS", () => {
  it("serve gRPC over HTTP/2 negotiated by ALPN h2, and Connect over HTTPS/1.1", async () => {
    expect(httpsUrl).toMatch(/^https:/);
    expect((await handshake(h2Url, { ALPNProtocols: ["h2", "http/1.1"] })).alpn).toBe("h2");
    expect((await handshake(httpsUrl, { ALPNProtocols: ["h2", "http/1.1"] })).alpn).toBe("http/1.1");
    const grpc = new GrpcSender(h2Url, asProducer());
    const connect = new ConnectSender(httpsUrl, asProducer());
    try {
      expect(await grpc.send(work(), 5_000)).toMatchObject({ outcome: "ok" });
      expect(await connect.send(work(), 5_000)).toMatchObject({ outcome: "ok" });
    } finally {
      await Promise.all([grpc.close(), connect.close()]);
    }
  });

  it("is called by the producer as configured: HANDLER_TLS_DIR, https:// URLs by name, balanced over resolved addresses", async () => {
    const producerMount = createSecretMount(pki.dir, "producer-tls", { "tls.crt": producer.cert, "tls.key": producer.key, "ca.crt": ca.cert });
    const byName = (url: string) => url.replace("127.0.0.1", "localhost");
    // A certificate naming only localhost: an address-only check would refuse it.
    const nameOnly = await ca.issue({ commonName: "handler-by-name", altNames: ["DNS:localhost"] });
    mount.update({ "tls.crt": nameOnly.cert, "tls.key": nameOnly.key, "ca.crt": ca.cert });
    await eventually(async () => (await handshake(h2Url, {})).certificate.subject === "CN=handler-by-name", 10_000);
    for (const balancing of ["round_robin", "off"]) {
      const config = loadProducerConfig({
        HANDLER_TLS_DIR: producerMount.dir,
        HANDLER_GRPC_URL: byName(h2Url),
        HANDLER_HTTP_URL: byName(httpsUrl),
        HANDLER_RPC_BALANCING: balancing,
        SHUTDOWN_GRACE_MS: "2000",
      });
      const producerApp = await buildProducer(config, createLogger({ service: "producer", level: "silent" }));
      try {
        // Balancing sends to https://127.0.0.1:port and must still check the name "localhost".
        expect(await producerApp.senders.grpc.send(work(), 5_000)).toMatchObject({ outcome: "ok" });
        expect(await producerApp.senders.connect.send(work(), 5_000)).toMatchObject({ outcome: "ok" });
      } finally {
        await producerApp.close();
      }
    }
    mount.update({ "tls.crt": server.cert, "tls.key": server.key, "ca.crt": ca.cert });
    await eventually(async () => (await handshake(h2Url, {})).certificate.subject === "CN=handler", 10_000);
  });

  it("answers a caller without a client certificate unauthenticated, on both listeners", async () => {
    for (const error of [await callConnect({ ca: ca.cert }), await callGrpc({ ca: ca.cert })]) {
      expect(error?.code).toBe(Code.Unauthenticated);
      expect(error?.rawMessage).toBe("a client certificate is required (mutual TLS)");
    }
    await expectStillServing();
  });

  it("answers a certificate from another CA unauthenticated, naming why", async () => {
    const stranger = await otherCa.issue({ commonName: "producer", altNames: ["URI:spiffe://switchyard/producer"] });
    for (const error of [await callConnect({ ca: ca.cert, ...stranger }), await callGrpc({ ca: ca.cert, ...stranger })]) {
      expect(error?.code).toBe(Code.Unauthenticated);
      expect(error?.rawMessage).toBe("client certificate rejected: not issued by a CA in TLS_CLIENT_CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE)");
    }
    await expectStillServing();
  });

  it("answers an expired client certificate unauthenticated", async () => {
    const expired = await ca.issue({ commonName: "producer", altNames: ["URI:spiffe://switchyard/producer"], expired: true });
    for (const error of [await callConnect({ ca: ca.cert, ...expired }), await callGrpc({ ca: ca.cert, ...expired })]) {
      expect(error?.code).toBe(Code.Unauthenticated);
      expect(error?.rawMessage).toBe("client certificate rejected: certificate has expired (CERT_HAS_EXPIRED)");
    }
    await expectStillServing();
  });

  it("answers a verified subject that is not on the allow-list permission_denied", async () => {
    const intruder = await ca.issue({ commonName: "intruder", altNames: ["DNS:intruder.example"] });
    for (const error of [await callConnect({ ca: ca.cert, ...intruder }), await callGrpc({ ca: ca.cert, ...intruder })]) {
      expect(error?.code).toBe(Code.PermissionDenied);
      expect(error?.rawMessage).toBe("client CN=intruder, DNS:intruder.example is not on the allow-list");
    }
    // Any one listed name is enough: a CN entry works as well as a SAN URI entry.
    const compare = await ca.issue({ commonName: "compare" });
    expect(await callGrpc({ ca: ca.cert, ...compare })).toBeUndefined();
    await expectStillServing();
  });

  it("keeps health open to callers without a certificate: the gRPC health service and /healthz", async () => {
    expect(await callGrpc({ ca: ca.cert }, "health")).toBeUndefined();
    const agent = new HttpsAgent({ ca: ca.cert });
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const request = httpsGet(`${httpsUrl}/healthz`, { agent }, (response) => {
        response.resume();
        resolve(response.statusCode);
      });
      request.once("error", reject);
    });
    agent.destroy();
    expect(status).toBe(200);
  });

  it("refuses cleartext on a TLS port and keeps serving", async () => {
    // The server answers a cleartext request with a TLS alert and closes: the gRPC
    // client sees its stream cancelled, the HTTP/1.1 client a hung-up socket.
    const plainGrpc = await callGrpc({}, "handler", h2Url.replace("https:", "http:"));
    expect([plainGrpc?.code, plainGrpc?.rawMessage]).toEqual([Code.Canceled, "http/2 stream closed with error code CANCEL (0x8)"]);
    const plainConnect = await callConnect({}, httpsUrl.replace("https:", "http:"));
    expect([plainConnect?.code, plainConnect?.rawMessage]).toEqual([Code.Aborted, "socket hang up"]);
    const failures = logLines.map((line) => JSON.parse(line) as { msg: string; err?: { message: string } }).filter((line) => line.msg === "TLS handshake failed");
    // Logged (at most once per 10 s), with the error serialized by the service's logger.
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]!.err?.message).toEqual(expect.any(String));
    const sender = new ConnectSender(httpsUrl.replace("https:", "http:"));
    try {
      expect((await sender.send(work(), 3_000)).outcome).toBe("aborted");
    } finally {
      await sender.close();
    }
    await expectStillServing();
  });

  it("lets the producer refuse a handler its CA did not sign", async () => {
    const wrongCa = { ca: otherCa.cert, cert: producer.cert, key: producer.key };
    for (const error of [await callGrpc(wrongCa), await callConnect(wrongCa)]) {
      expect(error?.code).toBeOneOf([Code.Internal, Code.Unavailable, Code.Unknown]);
      // Which one depends on whether the handler sends its CA along with its certificate.
      expect(error?.rawMessage).toMatch(/^(unable to verify the first certificate|self-signed certificate in certificate chain)/);
    }
    const grpc = new GrpcSender(h2Url, wrongCa);
    try {
      expect(await grpc.send(work(), 3_000)).toMatchObject({ outcome: "internal" });
    } finally {
      await grpc.close();
    }
    await expectStillServing();
  });

  it("reloads renewed material from a Secret update without a restart; an expired one is refused by callers", async () => {
    const before = (await handshake(h2Url, { ALPNProtocols: ["h2"] })).certificate;
    const renewed = await ca.issue({ commonName: "handler-renewed", altNames: ["DNS:localhost", "IP:127.0.0.1"] });
    mount.update({ "tls.crt": renewed.cert, "tls.key": renewed.key, "ca.crt": ca.cert });
    for (const url of [h2Url, httpsUrl]) {
      await eventually(async () => (await handshake(url, {})).certificate.subject === "CN=handler-renewed", 10_000);
    }
    expect(before.subject).toBe("CN=handler");
    await expectStillServing();

    const expired = await ca.issue({ commonName: "handler-expired", altNames: ["DNS:localhost", "IP:127.0.0.1"], expired: true });
    mount.update({ "tls.crt": expired.cert, "tls.key": expired.key, "ca.crt": ca.cert });
    await eventually(async () => (await handshake(h2Url, { rejectUnauthorized: false })).certificate.subject === "CN=handler-expired", 10_000);
    const grpc = new GrpcSender(h2Url, asProducer());
    try {
      expect(await grpc.send(work(), 3_000)).toMatchObject({ outcome: "internal" });
    } finally {
      await grpc.close();
    }
    await expect(handshake(httpsUrl, {})).rejects.toThrow("certificate has expired");
    mount.update({ "tls.crt": server.cert, "tls.key": server.key, "ca.crt": ca.cert });
    await eventually(async () => (await handshake(h2Url, {})).certificate.subject === "CN=handler", 10_000);
    await expectStillServing();
  });

  it("keeps serving the current material when the new files are bad", async () => {
    const other = await ca.issue({ commonName: "mismatch", altNames: ["DNS:localhost"] });
    expect(app.tls).toBeDefined();
    // A key that is not the certificate's: refused, and the listener keeps its material.
    mount.update({ "tls.crt": server.cert, "tls.key": other.key, "ca.crt": ca.cert });
    expect(app.tls!.reload()).toBe(false);
    expect((await handshake(h2Url, {})).certificate.subject).toBe("CN=handler");
    await expectStillServing();
    mount.update({ "tls.crt": server.cert, "tls.key": server.key, "ca.crt": ca.cert });
  });
});
