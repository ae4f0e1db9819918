import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createSecureContext, type SecureContextOptions, type Server as TlsServer, type TLSSocket } from "node:tls";
import type { Logger } from "pino";
import { ConfigError } from "./config.ts";
import { TlsDirWatcher } from "./tls-watch.ts";

/**
 * File names inside a TLS directory: the keys of a `kubernetes.io/tls` Secret as
 * cert-manager writes them, so a Certificate's Secret mounts as is.
 */
export const TLS_FILES = { cert: "tls.crt", key: "tls.key", ca: "ca.crt" } as const;

/** Certificate material read from a TLS directory; every field PEM. */
export interface TlsMaterial {
  /** This side's certificate chain (`tls.crt`); absent when the directory has none. */
  cert?: Buffer;
  /** The private key of `cert` (`tls.key`). */
  key?: Buffer;
  /** CA certificates that verify the other side (`ca.crt`); absent: the system's. */
  ca?: Buffer;
}

/** What a TLS directory must hold. */
export interface ReadTlsOptions {
  /** The variable naming the directory, for the one-line error. */
  variable: string;
  /** `tls.crt` and `tls.key` must be present (a server); otherwise they are optional, as a pair (a client). */
  requireKeyPair: boolean;
  /** `ca.crt` must be present. */
  requireCa?: boolean;
}

/**
 * Reads and checks a TLS directory: certificates parse, the key matches the
 * certificate. Synchronous, for start-up and reloads.
 *
 * @throws ConfigError naming `variable` and what is wrong, in one line.
 */
export function readTlsDir(dir: string, options: ReadTlsOptions): TlsMaterial {
  const { variable } = options;
  const fail = (problem: string): never => {
    throw new ConfigError(variable, `invalid configuration: ${variable} ${problem} (got ${JSON.stringify(dir)})`);
  };
  const read = (name: string, required: boolean): Buffer | undefined => {
    try {
      return readFileSync(join(dir, name));
    } catch (error) {
      if (!required && (error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      return fail(`must be a directory holding ${name}: ${(error as Error).message}`);
    }
  };
  const cert = read(TLS_FILES.cert, options.requireKeyPair);
  const key = read(TLS_FILES.key, options.requireKeyPair || cert !== undefined);
  if (key !== undefined && cert === undefined) fail(`holds ${TLS_FILES.key} without ${TLS_FILES.cert}`);
  const ca = read(TLS_FILES.ca, options.requireCa ?? false);
  if (cert) checkCertificates(cert, `${TLS_FILES.cert} must hold PEM certificates`, fail);
  if (ca) checkCertificates(ca, `${TLS_FILES.ca} must hold PEM certificates`, fail);
  try {
    // Parses the key and checks it belongs to the certificate, as a server would.
    createSecureContext({ cert, key, ca });
  } catch (error) {
    fail(`holds a certificate and key that do not fit together: ${(error as Error).message}`);
  }
  return { cert, key, ca };
}

/**
 * Reads a PEM CA bundle file.
 *
 * @throws ConfigError naming `variable` when it is missing or holds no certificate.
 */
export function readCaFile(file: string, variable: string): Buffer {
  const fail = (problem: string): never => {
    throw new ConfigError(variable, `invalid configuration: ${variable} ${problem} (got ${JSON.stringify(file)})`);
  };
  let ca: Buffer;
  try {
    ca = readFileSync(file);
  } catch (error) {
    return fail(`must be a readable PEM file of CA certificates: ${(error as Error).message}`);
  }
  checkCertificates(ca, "must be a PEM file of CA certificates", fail);
  return ca;
}

function checkCertificates(pem: Buffer, expected: string, fail: (problem: string) => never): void {
  const blocks = pem.toString("utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) fail(expected);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (error) {
      fail(`${expected}: ${(error as Error).message}`);
    }
  }
}

/** Configuration of the listeners' TLS, validated by {@link tlsListenerEnv} in the services' config. */
export interface ServerTlsConfig {
  /** Directory with `tls.crt`, `tls.key` and optionally `ca.crt` (TLS_DIR). */
  dir: string;
  /** CA bundle verifying client certificates (TLS_CLIENT_CA); set: every RPC needs a client certificate. */
  clientCaFile?: string;
  /** Subjects allowed to call (TLS_ALLOWED_CLIENTS): `CN=…`, `DNS:…` or `URI:…`; empty: any verified client. */
  allowedClients: readonly string[];
}

/** Why a caller may not call, as the RPC answers it. */
export type PeerVerdict =
  | { ok: true; subject: string }
  | { ok: false; code: "unauthenticated" | "permission_denied"; message: string };

/**
 * The TLS of a service's listeners: one owner for loading the certificate material,
 * reloading it when its files change, and judging client certificates. Client
 * certificates are requested but not enforced in the handshake, so a caller without
 * a valid one still connects and gets an RPC error saying why (see
 * {@link ServerTls.judge}) instead of a bare handshake failure.
 */
export class ServerTls {
  readonly config: ServerTlsConfig;
  readonly #logger: Logger;
  readonly #servers = new Set<TlsServer>();
  readonly #watcher: TlsDirWatcher;
  readonly #verdicts = new WeakMap<TLSSocket, PeerVerdict>();
  #options: SecureContextOptions;
  #handshakeFailures = new HandshakeFailureLog();

  /**
   * Reads the material once.
   *
   * @throws ConfigError naming TLS_DIR or TLS_CLIENT_CA when their files are missing or bad.
   */
  constructor(config: ServerTlsConfig, logger: Logger) {
    this.config = config;
    this.#logger = logger.child({ component: "tls" });
    this.#options = this.#read();
    const dirs = [config.dir, ...(config.clientCaFile ? [dirname(config.clientCaFile)] : [])];
    this.#watcher = new TlsDirWatcher(dirs, () => this.reload(), this.#logger);
  }

  /** Whether callers must present a client certificate (TLS_CLIENT_CA is set). */
  get mutual(): boolean {
    return this.config.clientCaFile !== undefined;
  }

  /** Options for `https.createServer` / `http2.createSecureServer`: the current material and the client-certificate policy. */
  serverOptions(): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
    // rejectUnauthorized false: the handshake completes and judge() answers the RPC.
    return { ...this.#options, requestCert: this.mutual, rejectUnauthorized: false };
  }

  /** Puts `server` under this material: it gets every reload, and its handshake failures are logged. */
  attach(server: TlsServer): void {
    this.#servers.add(server);
    server.on("tlsClientError", (error: Error, socket: TLSSocket) => this.#handshakeFailures.record(this.#logger, error, socket));
    server.once("close", () => this.#servers.delete(server));
  }

  /**
   * Watches the directories of the material and reloads it on change, without a
   * restart ({@link TlsDirWatcher}). Bad new material is logged and the current one kept.
   */
  watch(): void {
    this.#watcher.start();
  }

  /** Stops watching. */
  close(): void {
    this.#watcher.close();
  }

  /**
   * Reloads the material now and hands it to every attached server; resolves false
   * (and keeps the current material) when the new files are bad.
   */
  reload(): boolean {
    try {
      this.#options = this.#read();
    } catch (error) {
      this.#logger.error({ err: error }, "new TLS material refused; serving with the previous");
      return false;
    }
    for (const server of this.#servers) server.setSecureContext(this.serverOptions());
    const certificate = this.#options.cert ? new X509Certificate(this.#options.cert as Buffer) : undefined;
    this.#logger.info({ subject: certificate?.subject, validTo: certificate?.validTo }, "TLS material reloaded");
    return true;
  }

  /**
   * Whether the caller on `socket` may call: with mutual TLS off, always; else its
   * certificate must be present, verified against TLS_CLIENT_CA, and name an allowed
   * subject. Judged once per connection.
   */
  judge(socket: TLSSocket): PeerVerdict {
    let verdict = this.#verdicts.get(socket);
    if (!verdict) {
      verdict = judgePeer(socket, this.mutual, this.config.allowedClients);
      this.#verdicts.set(socket, verdict);
    }
    return verdict;
  }

  #read(): SecureContextOptions {
    const { cert, key, ca } = readTlsDir(this.config.dir, { variable: "TLS_DIR", requireKeyPair: true });
    const clientCa = this.config.clientCaFile ? readCaFile(this.config.clientCaFile, "TLS_CLIENT_CA") : undefined;
    // Server-side `ca` is what verifies client certificates; the server's own chain is in `cert`.
    return { cert, key, ...(clientCa ? { ca: clientCa } : ca ? { ca } : {}), minVersion: "TLSv1.2" };
  }
}

/** OpenSSL's verification codes for the common client-certificate faults, in words. */
const VERIFY_ERRORS: Readonly<Record<string, string>> = {
  CERT_HAS_EXPIRED: "certificate has expired",
  CERT_NOT_YET_VALID: "certificate is not yet valid",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "not issued by a CA in TLS_CLIENT_CA",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "not issued by a CA in TLS_CLIENT_CA",
  DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed certificate",
  SELF_SIGNED_CERT_IN_CHAIN: "not issued by a CA in TLS_CLIENT_CA",
  CERT_SIGNATURE_FAILURE: "certificate signature does not verify",
  INVALID_PURPOSE: "certificate is not for client authentication",
};

/** The verdict on one connection's client certificate. */
function judgePeer(socket: TLSSocket, mutual: boolean, allowed: readonly string[]): PeerVerdict {
  if (!mutual) return { ok: true, subject: "" };
  const certificate = socket.getPeerCertificate();
  if (!certificate || Object.keys(certificate).length === 0) {
    return { ok: false, code: "unauthenticated", message: "a client certificate is required (mutual TLS)" };
  }
  if (!socket.authorized) {
    // Node gives OpenSSL's verification code here, as a string.
    const code = String(socket.authorizationError ?? "UNVERIFIED");
    return { ok: false, code: "unauthenticated", message: `client certificate rejected: ${VERIFY_ERRORS[code] ?? "not verified"} (${code})` };
  }
  const names = peerNames(certificate.subject?.CN, certificate.subjectaltname);
  const subject = names.join(", ") || "(no subject names)";
  if (allowed.length > 0 && !names.some((name) => allowed.includes(name))) {
    return { ok: false, code: "permission_denied", message: `client ${subject} is not on the allow-list` };
  }
  return { ok: true, subject };
}

/** A certificate's names in the allow-list's forms: `CN=…`, then `DNS:…` and `URI:…` from its SANs. */
export function peerNames(commonName: string | string[] | undefined, subjectAltName: string | undefined): string[] {
  const names: string[] = [];
  for (const cn of [commonName ?? []].flat()) names.push(`CN=${cn}`);
  for (const entry of (subjectAltName ?? "").split(/,\s*/)) {
    if (entry.startsWith("DNS:") || entry.startsWith("URI:")) names.push(entry);
  }
  return names;
}

/**
 * Logs failed handshakes (cleartext to a TLS port, a client that refuses our
 * certificate) without letting a flood of them flood the log: the first in each
 * 10 s window is logged, with how many were not.
 */
class HandshakeFailureLog {
  #windowStart = -Infinity;
  #suppressed = 0;

  record(logger: Logger, error: Error, socket: TLSSocket): void {
    const now = performance.now();
    if (now - this.#windowStart < 10_000) {
      this.#suppressed += 1;
      return;
    }
    logger.warn({ err: error, remoteAddress: socket?.remoteAddress, suppressedBefore: this.#suppressed }, "TLS handshake failed");
    this.#windowStart = now;
    this.#suppressed = 0;
  }
}
