import { readFileSync } from "node:fs";
import type { LocalPki } from "./local-pki.ts";

/** How a comparison's services talk: cleartext, TLS (the server verified), or mutual TLS (both sides verified). */
export type SecurityMode = "cleartext" | "tls" | "mtls";

/** The security a local comparison's services are started with. */
export interface LocalSecurity {
  mode: SecurityMode;
  pki: LocalPki;
}

/** The handler's TLS variables: its listeners serve the local server certificate; under mTLS only CN=producer may call. */
export function handlerTlsEnv({ mode, pki }: LocalSecurity): Record<string, string> {
  if (mode === "cleartext") return {};
  return {
    TLS_DIR: pki.server,
    // The handler's own AMQP connection: the broker verified, and under mTLS a client certificate shown.
    AMQP_TLS_DIR: mode === "mtls" ? pki.clients.handler : pki.trust,
    ...(mode === "mtls" && { TLS_CLIENT_CA: pki.caFile, TLS_ALLOWED_CLIENTS: "CN=producer" }),
  };
}

/** The producer's TLS variables: HANDLER_TLS_DIR serves its RPC senders and its ObservationService client alike. */
export function producerTlsEnv({ mode, pki }: LocalSecurity): Record<string, string> {
  if (mode === "cleartext") return {};
  const dir = mode === "mtls" ? pki.clients.producer : pki.trust;
  return {
    HANDLER_TLS_DIR: dir,
    AMQP_TLS_DIR: dir,
    // The management API stays cleartext on the local broker; its default follows the amqps:// scheme to https.
    AMQP_MANAGEMENT_URL: "http://127.0.0.1:15672",
  };
}

/** The URL scheme of the handler's listeners in `mode`. */
export function handlerScheme(mode: SecurityMode): "http" | "https" {
  return mode === "cleartext" ? "http" : "https";
}

/** The CA a readiness probe of a handler in `security` must trust; undefined for cleartext. */
export function probeCa(security: LocalSecurity | undefined): Buffer | undefined {
  return security && security.mode !== "cleartext" ? readFileSync(security.pki.caFile) : undefined;
}

/** `amqp://u:p@127.0.0.1:5672/vhost` → `amqps://u:p@127.0.0.1:5671/vhost`: the same broker's TLS listener. */
export function amqpsUrlOf(amqpUrl: string, port = 5671): string {
  const url = new URL(amqpUrl);
  url.protocol = "amqps:";
  url.port = String(port);
  return url.toString();
}
