import { hostname } from "node:os";
import { amqpClientTls, distinctPorts, optionalPort, clientTls, identifier, integer, logLevel, parseEnv, port, serverTlsConfig, tlsListenerEnv, url } from "@switchyard/platform";
import { z } from "zod";
import { referenceSenderEnv } from "./senders/reference/config.ts";

/** A comma-separated list of URLs with one of `protocols`; empty by default. */
function urlList(protocols: readonly string[]) {
  return z
    .string()
    .default("")
    .transform((value) => value.split(",").map((entry) => entry.trim()).filter((entry) => entry !== ""))
    .refine(
      (urls) => urls.every((entry) => URL.canParse(entry) && protocols.includes(new URL(entry).protocol)),
      { message: `must be comma-separated ${protocols.join(" or ")} URLs` },
    );
}

/**
 * Every environment variable the producer reads, with its default and expected form.
 * This object is the single list: the chart tests derive the variables a chart may set
 * from its keys.
 */
export const producerEnvSchema = z.object({
  /** HTTP/1.1 listener: the ProducerService control API (Connect), health and metrics. */
  HTTP_PORT: port(8080),
  /** HTTP/2 cleartext listener: ProducerService over gRPC and grpc.health.v1. */
  H2C_PORT: port(8081),
  /**
   * Optional HTTP/1.1 listener for `/healthz`, `/readyz` and `/metrics`, which then leave
   * the data listeners (a NetworkPolicy can admit only the kubelet and the scraper). TLS
   * with TLS_DIR, never asking for a client certificate. Unset: they stay on HTTP_PORT.
   */
  OPS_PORT: optionalPort(),
  /** Address both listeners bind; 0.0.0.0 so kubelet probes reach the pod IP. */
  BIND_HOST: z.string().min(1).default("0.0.0.0"),
  /** The broker, with the vhost as its path. guest:guest only works over loopback. */
  AMQP_URL: url("amqp://guest:guest@127.0.0.1:5672/", ["amqp:", "amqps:"]),
  /**
   * The broker's management HTTP API, read for its queue counts when a handler restart
   * leaves loss to the broker to establish; same credentials and vhost as AMQP_URL.
   * Empty: http://<AMQP_URL host>:15672.
   */
  AMQP_MANAGEMENT_URL: z
    .string()
    .default("")
    .refine((value) => value === "" || (URL.canParse(value) && ["http:", "https:"].includes(new URL(value).protocol)), {
      message: "must be an http: or https: URL, or empty",
    }),
  /** Directory holding ca.crt (verifies an amqps:// broker) and optionally tls.crt + tls.key (this client's certificate). */
  AMQP_TLS_DIR: z.string().default(""),
  /** At start: `declare` the topology (needs configure rights) or only `check` it exists (a least-privilege user). */
  AMQP_TOPOLOGY: z.enum(["declare", "check"], { error: "must be declare or check" }).default("declare"),
  ...tlsListenerEnv,
  /**
   * Directory for calling https:// handler URLs: ca.crt verifies the handler (absent:
   * the system's CAs), tls.crt + tls.key, when present, are this producer's client
   * certificate (for a handler requiring mutual TLS). A kubernetes.io/tls Secret fits.
   */
  HANDLER_TLS_DIR: z.string().default(""),
  /** Deliveries per message before it is dead-lettered; must equal the handler's value. */
  AMQP_DELIVERY_LIMIT: integer(5, 1, 1000),
  LOG_LEVEL: logLevel,
  /** Names this instance; run producer ids are derived from it. Defaults to the host (pod) name. */
  PRODUCER_ID: identifier(hostname()),
  /** The handler's HTTP/1.1 listener: Connect JSON sends. */
  HANDLER_HTTP_URL: url("http://127.0.0.1:8080", ["http:", "https:"]),
  /**
   * Every handler replica's HTTP/1.1 listener, comma-separated, for Connect sends when
   * balancing; each URL stands for every address its host resolves to (a headless
   * Service name in a cluster: one A record per ready pod). Empty: HANDLER_HTTP_URL.
   */
  HANDLER_HTTP_URLS: urlList(["http:", "https:"]),
  /** Every handler replica's h2c listener, as HANDLER_HTTP_URLS. Empty: HANDLER_GRPC_URL. */
  HANDLER_GRPC_URLS: urlList(["http:", "https:"]),
  /**
   * Where to ask every handler replica's ObservationService, as HANDLER_HTTP_URLS.
   * Empty: the HTTP URLs above.
   */
  HANDLER_OBSERVATION_URLS: urlList(["http:", "https:"]),
  /**
   * How the RPC senders spread Work over handler replicas: `round_robin` sends each
   * message to the next resolved address in turn (addresses resolved again every 10 s);
   * `off` keeps one connection to the first URL as given, as a plain client would.
   */
  HANDLER_RPC_BALANCING: z.enum(["round_robin", "off"]).default("round_robin"),
  /** The handler's h2c listener: gRPC sends. */
  HANDLER_GRPC_URL: url("http://127.0.0.1:8081", ["http:", "https:"]),
  /**
   * The handler's payload limit (its MAX_PAYLOAD_BYTES), in bytes: a run asking for
   * larger payloads is refused up front instead of failing every send.
   */
  HANDLER_MAX_PAYLOAD_BYTES: integer(1024 * 1024, 0, 64 * 1024 * 1024),
  /** Deadline of every RPC send and longest wait for a publisher confirm, in milliseconds. */
  SEND_TIMEOUT_MS: integer(5_000, 1, 600_000),
  /** Most unconfirmed AMQP publishes outstanding at once on the producer's confirm channel. */
  AMQP_CONFIRM_WINDOW: integer(128, 1, 65_535),
  /** Steady background load over gRPC, messages/s; 0 turns it off. */
  BACKGROUND_RATE_GRPC: integer(0, 0, 100_000),
  /** Steady background load over Connect JSON, messages/s; 0 turns it off. */
  BACKGROUND_RATE_CONNECT: integer(0, 0, 100_000),
  /** Steady background load over AMQP, messages/s; 0 turns it off. */
  BACKGROUND_RATE_AMQP: integer(0, 0, 100_000),
  /** Payload size of each background message, in bytes. */
  BACKGROUND_PAYLOAD_BYTES: integer(256, 0, 1024 * 1024),
  /** Upper bound for a graceful shutdown, in milliseconds. */
  SHUTDOWN_GRACE_MS: integer(20_000, 1_000, 600_000),
  ...referenceSenderEnv,
});

/** The producer's validated configuration. */
export type ProducerConfig = z.infer<typeof producerEnvSchema>;

/**
 * Reads and validates the producer's configuration once.
 *
 * @throws ConfigError naming the first variable that does not fit.
 */
export function loadProducerConfig(env: NodeJS.ProcessEnv = process.env): ProducerConfig {
  const config = parseEnv(producerEnvSchema, env);
  distinctPorts({ HTTP_PORT: config.HTTP_PORT, H2C_PORT: config.H2C_PORT, OPS_PORT: config.OPS_PORT });
  serverTlsConfig(config);
  amqpClientTls(config.AMQP_URL, config.AMQP_TLS_DIR);
  clientTls(config.HANDLER_TLS_DIR, "HANDLER_TLS_DIR");
  return config;
}
