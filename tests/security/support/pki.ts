import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A throwaway certificate authority made with openssl, in a directory of its own. */
export interface TestCa {
  name: string;
  /** PEM of the CA certificate. */
  cert: Buffer;
  /** Path of the CA certificate file. */
  certFile: string;
  /** Issues a leaf certificate signed by this CA. */
  issue(options: IssueOptions): Promise<IssuedCertificate>;
}

/** What {@link TestCa.issue} puts in a certificate. */
export interface IssueOptions {
  commonName: string;
  /** subjectAltName entries in openssl's form, e.g. `DNS:localhost`, `IP:127.0.0.1`, `URI:spiffe://x/y`. */
  altNames?: string[];
  /** Valid from two days ago until yesterday. */
  expired?: boolean;
}

/** A leaf certificate and its key, PEM, with their files. */
export interface IssuedCertificate {
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
}

/** Where the test PKI lives; {@link Pki.destroy} removes everything. */
export interface Pki {
  dir: string;
  createCa(name: string): Promise<TestCa>;
  destroy(): void;
}

/** Starts a test PKI in a fresh temporary directory. */
export function createPki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-pki-"));
  let serial = 1;
  return {
    dir,
    destroy: () => rmSync(dir, { recursive: true, force: true }),
    async createCa(name) {
      const caDir = join(dir, name);
      mkdirSync(join(caDir, "issued"), { recursive: true });
      const certFile = join(caDir, "ca.crt");
      const keyFile = join(caDir, "ca.key");
      await run("openssl", [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", keyFile, "-out", certFile, "-days", "30", "-subj", `/CN=${name}`,
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
      ]);
      writeFileSync(join(caDir, "index.txt"), "");
      writeFileSync(join(caDir, "serial"), "1000\n");
      const config = join(caDir, "ca.cnf");
      writeFileSync(
        config,
        [
          "[ca]", "default_ca = own",
          "[own]", `database = ${join(caDir, "index.txt")}`, `new_certs_dir = ${join(caDir, "issued")}`, `serial = ${join(caDir, "serial")}`,
          "default_md = sha256", "policy = any", "unique_subject = no", "email_in_dn = no",
          "[any]", "commonName = supplied",
        ].join("\n"),
      );
      return {
        name,
        cert: readFileSync(certFile),
        certFile,
        async issue(options) {
          const id = `${options.commonName}-${serial++}`;
          const leafKey = join(caDir, `${id}.key`);
          const csr = join(caDir, `${id}.csr`);
          const leafCert = join(caDir, `${id}.crt`);
          const extFile = join(caDir, `${id}.ext`);
          await run("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", leafKey, "-out", csr, "-subj", `/CN=${options.commonName}`]);
          writeFileSync(
            extFile,
            [
              "basicConstraints = CA:FALSE",
              "keyUsage = critical,digitalSignature",
              "extendedKeyUsage = serverAuth,clientAuth",
              ...(options.altNames?.length ? [`subjectAltName = ${options.altNames.join(",")}`] : []),
            ].join("\n"),
          );
          const day = 24 * 3600 * 1000;
          const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
          const validity = options.expired
            ? ["-startdate", stamp(Date.now() - 2 * day), "-enddate", stamp(Date.now() - day)]
            : ["-days", "30"];
          await run("openssl", [
            "ca", "-batch", "-notext", "-config", config, "-cert", certFile, "-keyfile", keyFile,
            "-in", csr, "-out", leafCert, "-extfile", extFile, ...validity,
          ]);
          return { cert: readFileSync(leafCert), key: readFileSync(leafKey), certFile: leafCert, keyFile: leafKey };
        },
      };
    },
  };
}

/**
 * A directory laid out as the kubelet mounts a `kubernetes.io/tls` Secret: the files
 * are symlinks through `..data`, itself a symlink to a timestamped directory, and an
 * update swaps `..data` in one rename.
 */
export interface SecretMount {
  dir: string;
  /** Writes new contents the kubelet's way. */
  update(files: { "tls.crt"?: Buffer; "tls.key"?: Buffer; "ca.crt"?: Buffer }): void;
}

/** Creates a {@link SecretMount} under `parent` holding `files`. */
export function createSecretMount(parent: string, name: string, files: { "tls.crt"?: Buffer; "tls.key"?: Buffer; "ca.crt"?: Buffer }): SecretMount {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  let version = 0;
  const update: SecretMount["update"] = (contents) => {
    const versionDir = `..${Date.now()}_${version++}`;
    mkdirSync(join(dir, versionDir));
    for (const [file, content] of Object.entries(contents)) if (content) writeFileSync(join(dir, versionDir, file), content);
    symlinkSync(versionDir, join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    for (const file of Object.keys(contents)) {
      try {
        symlinkSync(join("..data", file), join(dir, file));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
    }
  };
  update(files);
  return { dir, update };
}
