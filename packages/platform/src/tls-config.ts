import { z } from "zod";
import { ConfigError } from "./config.ts";
import { readTlsDir, type ServerTlsConfig, type TlsMaterial } from "./tls.ts";

const SUBJECT = /^(CN=.+|DNS:.+|URI:.+)$/;

/**
 * The listener TLS variables, shared by both services' schemas. All empty by default:
 * cleartext, for local development.
 */
export const tlsListenerEnv = {
  /** Directory holding tls.crt, tls.key (and ca.crt), a mounted kubernetes.io/tls Secret; set: both listeners serve TLS only. */
  TLS_DIR: z.string().default(""),
  /** PEM file of the CAs that issue client certificates; set: every RPC needs a verified client certificate (mutual TLS). */
  TLS_CLIENT_CA: z.string().default(""),
  /** Comma-separated subjects allowed to call: CN=name, DNS:name or URI:uri; empty: any client TLS_CLIENT_CA verifies. */
  TLS_ALLOWED_CLIENTS: z
    .string()
    .default("")
    .transform((value) => value.split(",").map((entry) => entry.trim()).filter((entry) => entry !== ""))
    .refine((entries) => entries.every((entry) => SUBJECT.test(entry)), {
      message: "must be comma-separated CN=name, DNS:name or URI:uri entries",
    }),
};

/**
 * The listeners' TLS from validated variables: undefined for cleartext.
 *
 * @throws ConfigError when a variable is set without the one it depends on.
 */
export function serverTlsConfig(env: { TLS_DIR: string; TLS_CLIENT_CA: string; TLS_ALLOWED_CLIENTS: string[] }): ServerTlsConfig | undefined {
  if (env.TLS_CLIENT_CA !== "" && env.TLS_DIR === "") {
    throw new ConfigError("TLS_CLIENT_CA", "invalid configuration: TLS_CLIENT_CA needs TLS_DIR (client certificates are asked for over TLS only)");
  }
  if (env.TLS_ALLOWED_CLIENTS.length > 0 && env.TLS_CLIENT_CA === "") {
    throw new ConfigError("TLS_ALLOWED_CLIENTS", "invalid configuration: TLS_ALLOWED_CLIENTS needs TLS_CLIENT_CA (subjects come from verified client certificates)");
  }
  if (env.TLS_DIR === "") return undefined;
  return { dir: env.TLS_DIR, clientCaFile: env.TLS_CLIENT_CA || undefined, allowedClients: env.TLS_ALLOWED_CLIENTS };
}

/**
 * Client TLS material from a directory variable (HANDLER_TLS_DIR, AMQP_TLS_DIR):
 * `ca.crt` verifies the server (absent: the system's CAs), `tls.crt` + `tls.key`, when
 * present, are this client's certificate. Undefined when the variable is empty.
 *
 * @throws ConfigError naming `variable` when its files are bad.
 */
export function clientTls(dir: string, variable: string): TlsMaterial | undefined {
  return dir === "" ? undefined : readTlsDir(dir, { variable, requireKeyPair: false });
}

/**
 * The AMQP client's TLS material from AMQP_TLS_DIR (see {@link clientTls}); the
 * directory is for an amqps:// URL only.
 *
 * @throws ConfigError naming AMQP_TLS_DIR.
 */
export function amqpClientTls(amqpUrl: string, dir: string): TlsMaterial | undefined {
  if (dir !== "" && new URL(amqpUrl).protocol !== "amqps:") {
    throw new ConfigError("AMQP_TLS_DIR", "invalid configuration: AMQP_TLS_DIR needs an amqps:// AMQP_URL");
  }
  return clientTls(dir, "AMQP_TLS_DIR");
}
