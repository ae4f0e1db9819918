// The throwaway certificate authority `compare --tls` runs under: one CA, a server
// certificate for the handler and the local broker, client certificates for mutual TLS.
// Made with Debian's openssl, kept in a git-ignored folder, remade when missing, broken
// or close to expiry. Nothing here is a secret worth keeping: it lives a day.
import { execFile } from "node:child_process";
import { createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** How long every certificate is valid: briefly, as befits a throwaway CA. */
export const VALID_DAYS = 1;
/** Material with less than this left is remade, so a run never straddles an expiry. */
export const RENEW_MARGIN_MS = 60 * 60 * 1000;
/** The client certificates' subjects: the handler admits `CN=producer` under mutual TLS. */
export const CLIENT_NAMES = ["producer", "handler"] as const;

/** Where the local PKI's files are. Every leaf folder has the `kubernetes.io/tls` shape: tls.crt, tls.key, ca.crt. */
export interface LocalPki {
  dir: string;
  /** The CA certificate (PEM file). */
  caFile: string;
  /** Server certificate for localhost, 127.0.0.1 and ::1: the handler's TLS_DIR, the broker's listener. */
  server: string;
  /** Client certificates, by subject CN: a service's HANDLER_TLS_DIR / AMQP_TLS_DIR under mutual TLS. */
  clients: Record<(typeof CLIENT_NAMES)[number], string>;
  /** Only ca.crt: a client's directory when it verifies the server but shows no certificate of its own. */
  trust: string;
  /** When the earliest certificate expires. */
  notAfter: Date;
  /** Whether this call made the material (false: what was there is still good). */
  made: boolean;
}

/** Options of {@link ensureLocalPki}; the clock is for tests. */
export interface EnsurePkiOptions {
  now?: () => Date;
  log?: (line: string) => void;
}

function layout(dir: string): Omit<LocalPki, "notAfter" | "made"> {
  return {
    dir,
    caFile: join(dir, "ca", "ca.crt"),
    server: join(dir, "server"),
    clients: { producer: join(dir, "producer"), handler: join(dir, "handler") },
    trust: join(dir, "trust"),
  };
}

/**
 * Makes sure `dir` holds a good local PKI and returns its layout. Good means: every
 * file there, every leaf signed by the CA and matching its key, and every certificate
 * valid now and for {@link RENEW_MARGIN_MS} more. Otherwise the whole PKI is remade
 * (a new CA too: nothing trusts the old one but the processes this tool starts).
 * Idempotent; safe against a concurrent maker (the folder is swapped in whole).
 */
export async function ensureLocalPki(dir: string, options: EnsurePkiOptions = {}): Promise<LocalPki> {
  const now = options.now ?? (() => new Date());
  const current = inspect(dir, now());
  if (current.ok) return { ...layout(dir), notAfter: current.notAfter, made: false };
  options.log?.(`making a throwaway CA and certificates in ${dir} (${current.why})`);
  const staging = `${dir}.staging-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await make(staging);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dirname(dir), { recursive: true });
    try {
      renameSync(staging, dir);
    } catch (error) {
      // Another maker swapped its folder in first; use that one if it is good.
      const raced = inspect(dir, now());
      if (!raced.ok) throw error;
      return { ...layout(dir), notAfter: raced.notAfter, made: false };
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  const made = inspect(dir, now());
  if (!made.ok) throw new Error(`the certificates just made in ${dir} do not check out: ${made.why}`);
  return { ...layout(dir), notAfter: made.notAfter, made: true };
}

type Inspection = { ok: true; notAfter: Date } | { ok: false; why: string };

/** Checks the PKI in `dir` at `now`; says what is wrong when it is not good. */
export function inspect(dir: string, now: Date): Inspection {
  const paths = layout(dir);
  const leaves = [paths.server, ...Object.values(paths.clients)];
  const files = [paths.caFile, join(paths.trust, "ca.crt"), ...leaves.flatMap((leaf) => ["tls.crt", "tls.key", "ca.crt"].map((name) => join(leaf, name)))];
  const missing = files.find((file) => !existsSync(file));
  if (missing) return { ok: false, why: `${missing} is missing` };
  try {
    const ca = new X509Certificate(readFileSync(paths.caFile));
    let notAfter = new Date(ca.validTo);
    const fresh = (certificate: X509Certificate, name: string): string | undefined => {
      const [from, to] = [new Date(certificate.validFrom), new Date(certificate.validTo)];
      if (now < from) return `${name} is not valid before ${from.toISOString()}`;
      if (to.getTime() - now.getTime() < RENEW_MARGIN_MS) return `${name} ${to <= now ? "expired" : "expires"} at ${to.toISOString()}`;
      if (to < notAfter) notAfter = to;
      return undefined;
    };
    const caProblem = fresh(ca, "the CA");
    if (caProblem) return { ok: false, why: caProblem };
    for (const leaf of leaves) {
      const certificate = new X509Certificate(readFileSync(join(leaf, "tls.crt")));
      const problem = fresh(certificate, join(leaf, "tls.crt"));
      if (problem) return { ok: false, why: problem };
      if (!certificate.checkIssued(ca) || !certificate.verify(ca.publicKey)) return { ok: false, why: `${leaf}/tls.crt is not signed by the CA` };
      if (!certificate.checkPrivateKey(createPrivateKey(readFileSync(join(leaf, "tls.key"))))) return { ok: false, why: `${leaf}/tls.key does not fit tls.crt` };
      if (!readFileSync(join(leaf, "ca.crt")).equals(readFileSync(paths.caFile))) return { ok: false, why: `${leaf}/ca.crt is not the CA` };
    }
    if (!readFileSync(join(paths.trust, "ca.crt")).equals(readFileSync(paths.caFile))) return { ok: false, why: `${paths.trust}/ca.crt is not the CA` };
    return { ok: true, notAfter };
  } catch (error) {
    return { ok: false, why: `unreadable material: ${(error as Error).message}` };
  }
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** Makes a whole PKI in the empty folder `dir` with openssl. */
async function make(dir: string): Promise<void> {
  const paths = layout(dir);
  const caDir = dirname(paths.caFile);
  const caKey = join(caDir, "ca.key");
  for (const folder of [caDir, paths.server, paths.trust, ...Object.values(paths.clients)]) mkdirSync(folder, { recursive: true, mode: 0o700 });
  await openssl([
    "req", "-x509", ...EC_KEY, "-keyout", caKey, "-out", paths.caFile, "-days", String(VALID_DAYS),
    "-subj", "/CN=switchyard local compare CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const ca = readFileSync(paths.caFile);
  writeFileSync(join(paths.trust, "ca.crt"), ca);
  const issue = async (folder: string, commonName: string, extensions: string[]) => {
    const [key, csr, cert, ext] = ["tls.key", "tls.csr", "tls.crt", "tls.ext"].map((name) => join(folder, name)) as [string, string, string, string];
    await openssl(["req", "-new", ...EC_KEY, "-keyout", key, "-out", csr, "-subj", `/CN=${commonName}`]);
    writeFileSync(ext, ["basicConstraints = CA:FALSE", "keyUsage = critical,digitalSignature", ...extensions, ""].join("\n"));
    await openssl([
      "x509", "-req", "-in", csr, "-CA", paths.caFile, "-CAkey", caKey, "-set_serial", `0x${randomBytes(8).toString("hex")}`,
      "-days", String(VALID_DAYS), "-extfile", ext, "-out", cert,
    ]);
    rmSync(csr);
    rmSync(ext);
    chmodSync(key, 0o600);
    writeFileSync(join(folder, "ca.crt"), ca);
  };
  await issue(paths.server, "localhost", ["extendedKeyUsage = serverAuth", "subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1"]);
  for (const name of CLIENT_NAMES) await issue(paths.clients[name], name, ["extendedKeyUsage = clientAuth"]);
  chmodSync(caKey, 0o600);
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run("openssl", args);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`openssl ${args[0]} failed${stderr ? `: ${stderr.split("\n").at(-1)}` : `: ${(error as Error).message}`}`);
  }
}
