import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runToExit } from "../support/process.ts";
import { loadHandlerConfig } from "../../services/handler/src/config.ts";
import { loadProducerConfig } from "../../services/producer/src/config.ts";
import { createPki, createSecretMount, type Pki, type SecretMount } from "./support/pki.ts";

let pki: Pki;
let good: SecretMount;
let mismatched: SecretMount;
let notPem: string;

beforeAll(async () => {
  pki = createPki();
  const ca = await pki.createCa("config-ca");
  const [server, other] = [await ca.issue({ commonName: "handler" }), await ca.issue({ commonName: "other" })];
  good = createSecretMount(pki.dir, "good", { "tls.crt": server.cert, "tls.key": server.key, "ca.crt": ca.cert });
  mismatched = createSecretMount(pki.dir, "mismatched", { "tls.crt": server.cert, "tls.key": other.key });
  notPem = join(pki.dir, "not-a-certificate.pem");
  writeFileSync(notPem, "hello\n");
});

afterAll(() => pki?.destroy());

/** The handler process's one-line refusal of `env`. */
async function refusal(env: Record<string, string>): Promise<string> {
  const { code, stderr } = await runToExit("handler", { HTTP_PORT: "0", H2C_PORT: "0", BIND_HOST: "127.0.0.1", ...env });
  expect(code).toBe(1);
  expect(stderr.trim().split("\n")).toHaveLength(1);
  return stderr.trim();
}

describe("TLS configuration", () => {
  it("stops the process with one line naming TLS_DIR when the directory or its files are missing", async () => {
    expect(await refusal({ TLS_DIR: join(pki.dir, "absent") })).toMatch(/^invalid configuration: TLS_DIR must be a directory holding tls\.crt: ENOENT/);
  });

  it("stops the process naming TLS_DIR when the key is not the certificate's", async () => {
    expect(await refusal({ TLS_DIR: mismatched.dir })).toMatch(/^invalid configuration: TLS_DIR holds a certificate and key that do not fit together/);
  });

  it("stops the process naming TLS_CLIENT_CA when it is not a PEM file of certificates", async () => {
    expect(await refusal({ TLS_DIR: good.dir, TLS_CLIENT_CA: notPem })).toMatch(/^invalid configuration: TLS_CLIENT_CA must be a PEM file of CA certificates/);
  });

  it("refuses variables that need another: TLS_CLIENT_CA without TLS_DIR, TLS_ALLOWED_CLIENTS without TLS_CLIENT_CA", () => {
    expect(() => loadHandlerConfig({ TLS_CLIENT_CA: notPem })).toThrow("TLS_CLIENT_CA needs TLS_DIR");
    expect(() => loadHandlerConfig({ TLS_DIR: good.dir, TLS_ALLOWED_CLIENTS: "CN=producer" })).toThrow("TLS_ALLOWED_CLIENTS needs TLS_CLIENT_CA");
  });

  it("refuses an allow-list entry of another form", () => {
    expect(() => loadHandlerConfig({ TLS_DIR: good.dir, TLS_CLIENT_CA: join(good.dir, "ca.crt"), TLS_ALLOWED_CLIENTS: "producer" })).toThrow(
      "TLS_ALLOWED_CLIENTS must be comma-separated CN=name, DNS:name or URI:uri entries",
    );
  });

  it("refuses AMQP_TLS_DIR with an amqp:// URL, and bad client material for the producer", () => {
    expect(() => loadHandlerConfig({ AMQP_TLS_DIR: good.dir })).toThrow("AMQP_TLS_DIR needs an amqps:// AMQP_URL");
    expect(() => loadProducerConfig({ HANDLER_TLS_DIR: mismatched.dir })).toThrow(/HANDLER_TLS_DIR holds a certificate and key that do not fit/);
    expect(loadProducerConfig({ HANDLER_TLS_DIR: good.dir, AMQP_URL: "amqps://u:p@broker:5671/", AMQP_TLS_DIR: good.dir }).HANDLER_TLS_DIR).toBe(good.dir);
  });

  it("keeps cleartext the default", () => {
    expect(loadHandlerConfig({})).toMatchObject({ TLS_DIR: "", TLS_CLIENT_CA: "", TLS_ALLOWED_CLIENTS: [], AMQP_TOPOLOGY: "declare" });
  });
});
