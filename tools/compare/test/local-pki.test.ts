// The throwaway PKI of `compare --tls`, made with the real openssl.
import { X509Certificate } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createPki } from "../../../tests/security/support/pki.ts";
import { ensureLocalPki, inspect, RENEW_MARGIN_MS } from "../src/tls/local-pki.ts";

const parent = mkdtempSync(join(tmpdir(), "switchyard-local-pki-"));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

const certificate = (file: string) => new X509Certificate(readFileSync(file));

describe("ensureLocalPki", () => {
  it("makes a CA, a server certificate for the loopback names and client certificates, in the kubernetes.io/tls shape", async () => {
    const pki = await ensureLocalPki(join(parent, "fresh"));
    expect(pki.made).toBe(true);
    const ca = certificate(pki.caFile);
    const server = certificate(join(pki.server, "tls.crt"));
    expect(server.subjectAltName).toBe("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
    expect(server.checkIssued(ca)).toBe(true);
    for (const [name, dir] of Object.entries(pki.clients)) {
      expect(certificate(join(dir, "tls.crt")).subject).toBe(`CN=${name}`);
      expect(readFileSync(join(dir, "ca.crt"))).toEqual(readFileSync(pki.caFile));
    }
    expect(readFileSync(join(pki.trust, "ca.crt"))).toEqual(readFileSync(pki.caFile));
    // Brief: valid a day, not for years.
    expect(new Date(server.validTo).getTime() - Date.now()).toBeLessThan(2 * 24 * 3600 * 1000);
  });

  it("leaves good material alone", async () => {
    const dir = join(parent, "kept");
    const first = await ensureLocalPki(dir);
    const before = readFileSync(join(first.server, "tls.crt"));
    const second = await ensureLocalPki(dir);
    expect(second.made).toBe(false);
    expect(readFileSync(join(second.server, "tls.crt"))).toEqual(before);
  });

  it("remakes everything when a file is missing", async () => {
    const dir = join(parent, "missing");
    const first = await ensureLocalPki(dir);
    const before = readFileSync(first.caFile);
    rmSync(join(first.clients.producer, "tls.key"));
    const logged: string[] = [];
    const second = await ensureLocalPki(dir, { log: (line) => logged.push(line) });
    expect(second.made).toBe(true);
    expect(logged.join("\n")).toMatch(/producer\/tls\.key is missing/);
    expect(readFileSync(second.caFile)).not.toEqual(before);
    expect(inspect(dir, new Date()).ok).toBe(true);
  });

  it("remakes an expired server certificate, and one about to expire", async () => {
    const dir = join(parent, "expired");
    const good = await ensureLocalPki(dir);
    // A really expired certificate, signed by a CA laid out where the local one goes.
    const test = createPki();
    try {
      const ca = await test.createCa("old-ca");
      const expired = await ca.issue({ commonName: "localhost", altNames: ["IP:127.0.0.1"], expired: true });
      const valid = await ca.issue({ commonName: "producer" });
      for (const leaf of [good.server, ...Object.values(good.clients), good.trust]) writeFileSync(join(leaf, "ca.crt"), ca.cert);
      cpSync(ca.certFile, good.caFile);
      for (const leaf of Object.values(good.clients)) {
        writeFileSync(join(leaf, "tls.crt"), valid.cert);
        writeFileSync(join(leaf, "tls.key"), valid.key);
      }
      writeFileSync(join(good.server, "tls.crt"), expired.cert);
      writeFileSync(join(good.server, "tls.key"), expired.key);
    } finally {
      test.destroy();
    }
    expect(inspect(dir, new Date())).toMatchObject({ ok: false, why: expect.stringMatching(/server\/tls\.crt expired at/) });
    const renewed = await ensureLocalPki(dir);
    expect(renewed.made).toBe(true);
    expect(new Date(certificate(join(renewed.server, "tls.crt")).validTo).getTime()).toBeGreaterThan(Date.now() + RENEW_MARGIN_MS);

    // Still valid, but not for the margin: remade before a run can straddle the expiry.
    const soon = new Date(renewed.notAfter.getTime() - RENEW_MARGIN_MS / 2);
    expect(inspect(dir, soon)).toMatchObject({ ok: false, why: expect.stringMatching(/expires at/) });
  });
});
