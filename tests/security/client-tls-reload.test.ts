import type { Http2SecureServer, Http2Session } from "node:http2";
import { create } from "@bufbuild/protobuf";
import { WorkSchema } from "@switchyard/contracts";
import { HandlerDirectory, HandlerFleet } from "@switchyard/measurement";
import { createLogger, ReloadingClientTls } from "@switchyard/platform";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/broker.ts";
import { build, type HandlerApp } from "../../services/handler/src/app.ts";
import { loadHandlerConfig } from "../../services/handler/src/config.ts";
import { build as buildProducer, type ProducerApp } from "../../services/producer/src/app.ts";
import { loadProducerConfig } from "../../services/producer/src/config.ts";
import { createPki, createSecretMount, type IssuedCertificate, type Pki, type SecretMount, type TestCa } from "./support/pki.ts";

// The producer's client certificate (HANDLER_TLS_DIR) renewed in place, the kubelet's
// way: the handler allows only the renewed certificate's subject, so a call succeeds
// exactly when the new certificate was presented. Each client takes the new material on
// its next connection: Connect's pool and the ObservationService client at once (their
// pools are keyed by the material's generation), gRPC when its HTTP/2 connection ends.

let pki: Pki;
let ca: TestCa;
let before: IssuedCertificate;
let renewed: IssuedCertificate;
let clientMount: SecretMount;
let handler: HandlerApp;
let producer: ProducerApp;
let httpsUrl: string;
const h2Sessions = new Set<Http2Session>();
const silent = createLogger({ service: "test", level: "silent" });
let sequence = 0;
const work = () => create(WorkSchema, { id: `client-reload-${process.pid}-${sequence++}`, payload: new Uint8Array(8) });

beforeAll(async () => {
  pki = createPki();
  ca = await pki.createCa("reload-ca");
  const server = await ca.issue({ commonName: "handler", altNames: ["DNS:localhost", "IP:127.0.0.1"] });
  before = await ca.issue({ commonName: "producer-old" });
  renewed = await ca.issue({ commonName: "producer-renewed" });
  const serverMount = createSecretMount(pki.dir, "handler-tls", { "tls.crt": server.cert, "tls.key": server.key, "ca.crt": ca.cert });
  clientMount = createSecretMount(pki.dir, "producer-tls", { "tls.crt": before.cert, "tls.key": before.key, "ca.crt": ca.cert });
  // No OPS_PORT: ObservationService sits on the data listener and needs the client certificate too.
  handler = await build(
    loadHandlerConfig({
      BIND_HOST: "127.0.0.1",
      TLS_DIR: serverMount.dir,
      TLS_CLIENT_CA: `${serverMount.dir}/ca.crt`,
      TLS_ALLOWED_CLIENTS: "CN=producer-renewed",
      SHUTDOWN_GRACE_MS: "3000",
    }),
    silent,
  );
  httpsUrl = await handler.http.listen({ host: "127.0.0.1", port: 0 });
  const h2Url = await handler.h2c.listen({ host: "127.0.0.1", port: 0 });
  (handler.h2c.server as unknown as Http2SecureServer).on("session", (session) => {
    h2Sessions.add(session);
    session.once("close", () => h2Sessions.delete(session));
  });
  producer = await buildProducer(
    loadProducerConfig({
      HANDLER_TLS_DIR: clientMount.dir,
      HANDLER_HTTP_URL: httpsUrl.replace("127.0.0.1", "localhost"),
      HANDLER_GRPC_URL: h2Url.replace("127.0.0.1", "localhost"),
      HANDLER_RPC_BALANCING: "off",
      SHUTDOWN_GRACE_MS: "2000",
    }),
    silent,
  );
});

afterAll(async () => {
  await producer?.close();
  await handler?.close();
  pki?.destroy();
});

describe("client TLS material from HANDLER_TLS_DIR, renewed in place", () => {
  let fleet: HandlerFleet;
  let fleetTls: ReloadingClientTls;

  beforeAll(() => {
    fleetTls = new ReloadingClientTls(clientMount.dir, "HANDLER_TLS_DIR", silent);
    fleet = new HandlerFleet(new HandlerDirectory([httpsUrl]), { reloading: fleetTls, servername: "localhost" });
  });
  afterAll(() => {
    fleet?.close();
    fleetTls?.close();
  });

  it("presents the old certificate first: refused by the allow-list on every client", async () => {
    expect(await producer.senders.connect.send(work(), 5_000)).toMatchObject({ outcome: "permission_denied" });
    expect(await producer.senders.grpc.send(work(), 5_000)).toMatchObject({ outcome: "permission_denied" });
    expect(await fleet.snapshot()).toBeUndefined();
  });

  it("presents the renewed certificate on the next connection, without a restart", async () => {
    clientMount.update({ "tls.crt": renewed.cert, "tls.key": renewed.key, "ca.crt": ca.cert });
    // Connect: the pool opens a new connection for the new material at once.
    await eventually(async () => (await producer.senders.connect.send(work(), 5_000)).outcome === "ok", 10_000, 100);
    // ObservationService: likewise, on its own connections.
    await eventually(async () => (await fleet.snapshot())?.replicas.length === 1, 10_000, 100);
    // gRPC keeps its HTTP/2 connection, made with the old certificate, until it ends.
    expect(await producer.senders.grpc.send(work(), 5_000)).toMatchObject({ outcome: "permission_denied" });
    expect(h2Sessions.size).toBeGreaterThan(0);
    for (const session of h2Sessions) session.destroy();
    await eventually(async () => (await producer.senders.grpc.send(work(), 5_000)).outcome === "ok", 10_000, 100);
  });

  it("keeps the current material when the new files are bad", async () => {
    const generation = fleetTls.generation;
    clientMount.update({ "tls.crt": renewed.cert, "tls.key": before.key, "ca.crt": ca.cert });
    expect(fleetTls.reload()).toBe(false);
    expect(fleetTls.generation).toBe(generation);
    expect(fleetTls.material.cert?.equals(renewed.cert)).toBe(true);
    expect(await producer.senders.connect.send(work(), 5_000)).toMatchObject({ outcome: "ok" });
    clientMount.update({ "tls.crt": renewed.cert, "tls.key": renewed.key, "ca.crt": ca.cert });
  });
});
