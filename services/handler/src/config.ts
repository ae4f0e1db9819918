import { hostname } from "node:os";
import { amqpClientTls, distinctPorts, optionalPort, ConfigError, identifier, integer, logLevel, parseEnv, port, ratio, serverTlsConfig, tlsListenerEnv, url } from "@switchyard/platform";
import { z } from "zod";
import { checkReferenceConfig, referenceEnv } from "./reference/config.ts";

/**
 * Every environment variable the handler reads, with its default and expected form.
 * This object is the single list: the chart tests derive the variables a chart may set
 * from its keys.
 */
export const handlerEnvSchema = z.object({
  /** HTTP/1.1 listener: Connect, gRPC-Web, health and metrics. */
  HTTP_PORT: port(8080),
  /** HTTP/2 cleartext listener: gRPC and grpc.health.v1. */
  H2C_PORT: port(8081),
  /**
   * Optional HTTP/1.1 listener for `/healthz`, `/readyz`, `/metrics` and
   * ObservationService, which then leave the data listeners (a NetworkPolicy can admit
   * only the kubelet and the scraper). TLS with TLS_DIR, never asking for a client
   * certificate. Unset: they stay on HTTP_PORT.
   */
  OPS_PORT: optionalPort(),
  /** Address both listeners bind; 0.0.0.0 so kubelet probes reach the pod IP. */
  BIND_HOST: z.string().min(1).default("0.0.0.0"),
  /** The broker, with the vhost as its path. guest:guest only works over loopback. */
  AMQP_URL: url("amqp://guest:guest@127.0.0.1:5672/", ["amqp:", "amqps:"]),
  /** Directory holding ca.crt (verifies an amqps:// broker) and optionally tls.crt + tls.key (this client's certificate). */
  AMQP_TLS_DIR: z.string().default(""),
  /**
   * At start: `declare` the topology (needs configure rights), only `check` it exists
   * (a least-privilege user), or `declare-and-exit`: the declare-only step.
   */
  AMQP_TOPOLOGY: z.enum(["declare", "check", "declare-and-exit"], { error: "must be declare, check or declare-and-exit" }).default("declare"),
  ...tlsListenerEnv,
  /** Unacknowledged deliveries the broker may push to this handler at once. */
  AMQP_PREFETCH: integer(64, 1, 65535),
  /** Deliveries per message before it is dead-lettered; declared on the quorum queue. */
  AMQP_DELIVERY_LIMIT: integer(5, 1, 1000),
  LOG_LEVEL: logLevel,
  /** Names this instance on receipts; defaults to the host (the pod) name. */
  HANDLER_ID: identifier(hostname()),
  /** Largest Work.payload accepted, in bytes. */
  MAX_PAYLOAD_BYTES: integer(1024 * 1024, 0, 64 * 1024 * 1024),
  /** Largest RPC request body, in bytes; must leave room for the payload. */
  READ_MAX_BYTES: integer(2 * 1024 * 1024, 1024, 128 * 1024 * 1024),
  /** Longest RPC deadline honoured, in milliseconds. */
  MAX_TIMEOUT_MS: integer(30_000, 1, 600_000),
  /** Work ids remembered for deduplication; the oldest is forgotten first. */
  DEDUPE_CAPACITY: integer(100_000, 1, 10_000_000),
  /** Producer runs whose received sequences are tracked for GetReceived. */
  LEDGER_RUNS: integer(64, 1, 10_000),
  /** Simulated cost: milliseconds of waiting per message (I/O-like). */
  SIMULATED_DELAY_MS: integer(0, 0, 60_000),
  /** Simulated cost: milliseconds of busy CPU per message. */
  SIMULATED_CPU_MS: integer(0, 0, 10_000),
  /** Simulated cost: share of messages whose handling fails (0-1). */
  SIMULATED_FAILURE_RATIO: ratio(0),
  /** Upper bound for a graceful shutdown, in milliseconds. */
  SHUTDOWN_GRACE_MS: integer(20_000, 1_000, 600_000),
  ...referenceEnv,
});

/** The handler's validated configuration. */
export type HandlerConfig = z.infer<typeof handlerEnvSchema>;

/**
 * Reads and validates the handler's configuration once.
 *
 * @throws ConfigError naming the first variable that does not fit.
 */
export function loadHandlerConfig(env: NodeJS.ProcessEnv = process.env): HandlerConfig {
  const config = parseEnv(handlerEnvSchema, env);
  distinctPorts({
    HTTP_PORT: config.HTTP_PORT,
    H2C_PORT: config.H2C_PORT,
    OPS_PORT: config.OPS_PORT,
    REFERENCE_GRPC_PORT: config.REFERENCE_GRPC_PORT,
    REFERENCE_HTTP_PORT: config.REFERENCE_HTTP_PORT,
  });
  checkReferenceConfig(config);
  serverTlsConfig(config);
  amqpClientTls(config.AMQP_URL, config.AMQP_TLS_DIR);
  if (config.READ_MAX_BYTES <= config.MAX_PAYLOAD_BYTES) {
    // A request carrying the largest allowed payload must still fit the body limit.
    throw new ConfigError(
      "READ_MAX_BYTES",
      `invalid configuration: READ_MAX_BYTES must be greater than MAX_PAYLOAD_BYTES=${config.MAX_PAYLOAD_BYTES} (got ${config.READ_MAX_BYTES})`,
    );
  }
  return config;
}

