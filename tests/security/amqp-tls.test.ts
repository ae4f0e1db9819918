import { create } from "@bufbuild/protobuf";
import { WorkSchema } from "@switchyard/contracts";
import { clientTls, rascalConfig, Readiness } from "@switchyard/platform";
import { pino } from "pino";
import type { BrokerConfig } from "rascal";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/broker.ts";
import { startPrivateBroker, type PrivateBroker } from "../support/private-broker.ts";
import { build, type HandlerApp } from "../../services/handler/src/app.ts";
import { loadHandlerConfig } from "../../services/handler/src/config.ts";
import { AmqpSender } from "../../services/producer/src/senders/amqp.ts";
import { createPki, createSecretMount, type Pki, type SecretMount } from "./support/pki.ts";

// AMQP over TLS against a RabbitMQ node of the test's own with its TLS listener on,
// verifying the broker and requiring client certificates.
let pki: Pki;
let broker: PrivateBroker;
let producerTls: SecretMount;
let handlerTls: SecretMount;
let strangerTls: SecretMount;
let noCertificate: SecretMount;
let amqpsUrl: string;
let handler: HandlerApp;

beforeAll(async () => {
  pki = createPki();
  const [ca, otherCa] = [await pki.createCa("broker-ca"), await pki.createCa("stranger-ca")];
  const server = await ca.issue({ commonName: "rabbitmq", altNames: ["IP:127.0.0.1", "DNS:localhost"] });
  const [producer, handlerCert, stranger] = [
    await ca.issue({ commonName: "producer" }),
    await ca.issue({ commonName: "handler" }),
    await otherCa.issue({ commonName: "producer" }),
  ];
  producerTls = createSecretMount(pki.dir, "producer", { "tls.crt": producer.cert, "tls.key": producer.key, "ca.crt": ca.cert });
  handlerTls = createSecretMount(pki.dir, "handler", { "tls.crt": handlerCert.cert, "tls.key": handlerCert.key, "ca.crt": ca.cert });
  // A client that trusts another CA: it must refuse the broker.
  strangerTls = createSecretMount(pki.dir, "stranger", { "tls.crt": stranger.cert, "tls.key": stranger.key, "ca.crt": otherCa.cert });
  noCertificate = createSecretMount(pki.dir, "no-certificate", { "ca.crt": ca.cert });
  broker = await startPrivateBroker({ tls: { certFile: server.certFile, keyFile: server.keyFile, caFile: ca.certFile, requireClientCertificate: true } });
  amqpsUrl = `amqps://guest:guest@127.0.0.1:${broker.tlsPort}/`;
  handler = await build(
    loadHandlerConfig({ BIND_HOST: "127.0.0.1", HTTP_PORT: "0", H2C_PORT: "0", AMQP_URL: amqpsUrl, AMQP_TLS_DIR: handlerTls.dir, SHUTDOWN_GRACE_MS: "3000" }),
    pino({ level: "silent" }),
  );
  handler.consumer.start();
}, 120_000);

afterAll(async () => {
  await handler?.close();
  await broker?.destroy();
  pki?.destroy();
});

/** A producer AMQP sender with `url` and the TLS directory `dir`, and the warnings it logs. */
function producer(url: string, dir?: string) {
  const warnings: string[] = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => void warnings.push(line) });
  const sender = new AmqpSender({
    rascal: rascalConfig({ url, deliveryLimit: 5, tls: dir ? clientTls(dir, "AMQP_TLS_DIR") : undefined }) as BrokerConfig,
    window: 8,
    readiness: new Readiness(),
    logger,
  });
  sender.start();
  return { sender, warnings };
}

let sequence = 0;
const work = () => create(WorkSchema, { id: `amqps-${process.pid}-${sequence++}`, producerId: "amqps-test", payload: new Uint8Array(16) });

async function handledOverAmqp(): Promise<number> {
  const metric = await handler.registry.getSingleMetric("switchyard_handler_messages_total")!.get();
  return metric.values.filter((value) => value.labels.transport === "amqp" && value.labels.outcome === "ok").reduce((sum, value) => sum + value.value, 0);
}

/** A sender that cannot connect: every send ends unavailable, and it logs why. */
async function expectRefused(url: string, dir: string | undefined, why: RegExp): Promise<void> {
  const { sender, warnings } = producer(url, dir);
  try {
    await eventually(() => warnings.some((line) => why.test(line)), 15_000);
    expect(await sender.send(work(), 1_000)).toMatchObject({ outcome: "unavailable" });
  } finally {
    await sender.close();
  }
}

describe("AMQP over TLS", () => {
  it("publishes and consumes over amqps:// with the broker verified and client certificates", async () => {
    await eventually(() => handler.readiness.snapshot().broker_subscription, 30_000);
    const before = await handledOverAmqp();
    const { sender } = producer(amqpsUrl, producerTls.dir);
    try {
      await eventually(() => sender.connected, 30_000);
      for (let i = 0; i < 5; i++) expect(await sender.send(work(), 5_000)).toMatchObject({ outcome: "ok" });
      await eventually(async () => (await handledOverAmqp()) === before + 5, 15_000);
    } finally {
      await sender.close();
    }
  });

  it("refuses a broker whose certificate the client's CA did not sign", async () => {
    await expectRefused(amqpsUrl, strangerTls.dir, /Original message was: (self-signed certificate in certificate chain|unable to verify the first certificate)/);
  });

  it("is refused by the broker without a client certificate", async () => {
    await expectRefused(amqpsUrl, noCertificate.dir, /Original message was: .*alert certificate required/);
  });

  it("fails cleartext AMQP to the TLS port", async () => {
    await expectRefused(`amqp://guest:guest@127.0.0.1:${broker.tlsPort}/`, undefined, /Original message was: read ECONNRESET/);
  });

  it("keeps serving the clients it trusts after refusing the others", async () => {
    const { sender } = producer(amqpsUrl, producerTls.dir);
    try {
      await eventually(() => sender.connected, 30_000);
      expect(await sender.send(work(), 5_000)).toMatchObject({ outcome: "ok" });
    } finally {
      await sender.close();
    }
    expect(handler.readiness.snapshot().broker_subscription).toBe(true);
  });
});
