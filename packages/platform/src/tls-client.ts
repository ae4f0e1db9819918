import { Agent as HttpsAgent, type AgentOptions } from "node:https";
import type { SecureClientSessionOptions } from "node:http2";
import { isIP } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import type { Logger } from "pino";
import { readTlsDir, type TlsMaterial } from "./tls.ts";
import { TlsDirWatcher } from "./tls-watch.ts";

/**
 * A client's TLS material from a directory (HANDLER_TLS_DIR), reloaded when its files
 * change as the listeners' is ({@link TlsDirWatcher}): `ca.crt` verifies the server
 * (absent: the system's CAs), `tls.crt` + `tls.key`, when present, are the client
 * certificate. Connections opened after a reload use the new material; open ones keep
 * theirs, as a TLS connection cannot change certificates midway.
 */
export class ReloadingClientTls {
  readonly dir: string;
  readonly #variable: string;
  readonly #logger: Logger;
  readonly #watcher: TlsDirWatcher;
  #material: TlsMaterial;
  #generation = 0;

  /**
   * Reads the material once and starts watching.
   *
   * @throws ConfigError naming `variable` when the files are bad.
   */
  constructor(dir: string, variable: string, logger: Logger) {
    this.dir = dir;
    this.#variable = variable;
    this.#logger = logger.child({ component: "tls", variable });
    this.#material = readTlsDir(dir, { variable, requireKeyPair: false });
    this.#watcher = new TlsDirWatcher([dir], () => this.reload(), this.#logger);
    this.#watcher.start();
  }

  /** The current material. */
  get material(): TlsMaterial {
    return this.#material;
  }

  /** Counts reloads: a connection pool keys its connections by it, so none outlives the material it was opened with for reuse. */
  get generation(): number {
    return this.#generation;
  }

  /** Reads the files again; false (the current material kept, an error logged) when they are bad. */
  reload(): boolean {
    try {
      this.#material = readTlsDir(this.dir, { variable: this.#variable, requireKeyPair: false });
    } catch (error) {
      this.#logger.error({ err: error }, "new TLS material refused; connecting with the previous");
      return false;
    }
    this.#generation += 1;
    this.#logger.info({ generation: this.#generation }, "client TLS material reloaded");
    return true;
  }

  /** Stops watching. */
  close(): void {
    this.#watcher.close();
  }
}

/**
 * How an RPC client reaches an https:// server: fixed material (`ca`, `cert`, `key`), or
 * `reloading` material read per new connection; `servername` is the name the server's
 * certificate must carry when the URL holds a resolved address instead.
 */
export interface ClientTlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
  reloading?: ReloadingClientTls;
}

/** The tls.connect options of `tls` now. */
function currentOptions(tls: ClientTlsOptions): ConnectionOptions {
  const { ca, cert, key } = tls.reloading?.material ?? tls;
  return { ...(ca && { ca }), ...(cert && key && { cert, key }), ...(tls.servername && { servername: tls.servername }) };
}

/**
 * An https.Agent whose every new connection takes `source`'s current material. Pooled
 * connections and cached TLS sessions are keyed by the material's generation, so after
 * a reload no new request resumes a session made with the old client certificate.
 */
class ReloadingHttpsAgent extends HttpsAgent {
  readonly #tls: ClientTlsOptions & { reloading: ReloadingClientTls };

  constructor(tls: ClientTlsOptions & { reloading: ReloadingClientTls }, options: AgentOptions) {
    super(options);
    this.#tls = tls;
  }

  override getName(options?: Parameters<HttpsAgent["getName"]>[0]): string {
    return `${super.getName(options)}:tls-${this.#tls.reloading.generation}`;
  }

  override createConnection(...args: Parameters<HttpsAgent["createConnection"]>): ReturnType<HttpsAgent["createConnection"]> {
    const [options, ...rest] = args;
    return super.createConnection({ ...options, ...currentOptions(this.#tls) } as typeof options, ...rest);
  }
}

/** An https.Agent for `tls` with the pool `options`: fixed material, or material reloaded per new connection. */
export function httpsAgent(tls: ClientTlsOptions | undefined, options: AgentOptions): HttpsAgent {
  if (tls?.reloading) return new ReloadingHttpsAgent({ ...tls, reloading: tls.reloading }, options);
  return new HttpsAgent({ ...options, ...(tls && currentOptions(tls)) });
}

/**
 * Options for `http2.connect` (an HTTP/2 client session, e.g. connect-node's
 * Http2SessionManager) to an https:// `url` with `tls`: each new session opens its TLS
 * connection with the material current at that moment.
 */
export function http2SessionOptions(url: string, tls: ClientTlsOptions | undefined): SecureClientSessionOptions {
  if (!tls?.reloading) return { ...(tls && currentOptions(tls)) };
  const { hostname, port } = new URL(url);
  const host = hostname.replace(/^\[|\]$/g, "");
  return {
    ...(tls.servername && { servername: tls.servername }),
    // Node names the server by the URL's host unless told; an address is not a name.
    createConnection: () =>
      tlsConnect({ host, port: Number(port || 443), ALPNProtocols: ["h2"], ...(isIP(host) === 0 && { servername: host }), ...currentOptions(tls) }),
  };
}
