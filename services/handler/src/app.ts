import type { Logger } from "pino";
import type { BrokerConfig } from "rascal";
import { HandlerService, ObservationService } from "@switchyard/contracts";
import { amqpClientTls, createRegistry, createServers, rascalConfig, Readiness, serverTlsConfig, type Servers } from "@switchyard/platform";
import type { Registry } from "prom-client";
import type { HandlerConfig } from "./config.ts";
import { Deduplicator } from "./dedupe.ts";
import { ReceivedLedger } from "./ledger.ts";
import { createHandlerMetrics } from "./metrics.ts";
import { newIncarnation, type Incarnation } from "./observation/incarnation.ts";
import { observationRoutes } from "./observation/routes.ts";
import { ReferenceEndpoints } from "./reference/endpoints.ts";
import { AmqpConsumer } from "./transports/amqp.ts";
import { handlerRoutes } from "./transports/connect.ts";
import { createWorkHandler, type HandleWork } from "./work.ts";
import packageJson from "../package.json" with { type: "json" };

/** The handler, built and wired but not listening or consuming. */
export interface HandlerApp extends Servers {
  consumer: AmqpConsumer;
  /** The reference endpoints switched on by REFERENCE_* (none by default); main.ts listens and starts them. */
  reference: ReferenceEndpoints;
  readiness: Readiness;
  registry: Registry;
  handleWork: HandleWork;
  /** What this instance has handled per producer run (served by ObservationService.GetReceived). */
  ledger: ReceivedLedger;
  /** This process's incarnation, as ObservationService reports it. */
  incarnation: Incarnation;
  /**
   * Shuts down in the Contract order: not ready → stop consuming and let in-flight
   * messages finish → close listeners, draining in-flight RPCs → close the broker.
   */
  close(): Promise<void>;
}

/** Builds the handler from validated configuration. Never listens: see main.ts. */
export async function build(config: HandlerConfig, logger: Logger): Promise<HandlerApp> {
  const readiness = new Readiness();
  const registry = createRegistry("handler", packageJson.version);
  const metrics = createHandlerMetrics(registry);
  const ledger = new ReceivedLedger(config.LEDGER_RUNS);
  const incarnation = newIncarnation();
  const handleWork = createWorkHandler({
    handlerId: config.HANDLER_ID,
    maxPayloadBytes: config.MAX_PAYLOAD_BYTES,
    cost: {
      delayMs: config.SIMULATED_DELAY_MS,
      cpuMs: config.SIMULATED_CPU_MS,
      failureRatio: config.SIMULATED_FAILURE_RATIO,
    },
    dedupe: new Deduplicator(config.DEDUPE_CAPACITY),
    ledger,
    metrics,
  });
  // Shutdown has three bounded steps (settle in-flight messages, drain RPCs, close the
  // broker); a third of the grace each keeps the whole inside SHUTDOWN_GRACE_MS.
  const stepMs = Math.floor(config.SHUTDOWN_GRACE_MS / 3);
  const servers = await createServers({
    logger,
    readiness,
    registry,
    // The data plane (HandlerService) and the measurement plane (ObservationService),
    // apart: the latter on the ops listener when OPS_PORT is set.
    routes: handlerRoutes({ handleWork }),
    opsRoutes: observationRoutes({ handlerId: config.HANDLER_ID, incarnation, ledger, metrics }),
    separateOps: config.OPS_PORT !== undefined,
    services: [HandlerService.typeName, ObservationService.typeName],
    tls: serverTlsConfig(config),
    limits: {
      readMaxBytes: config.READ_MAX_BYTES,
      maxTimeoutMs: config.MAX_TIMEOUT_MS,
      shutdownTimeoutMs: stepMs,
    },
  });
  const consumer = new AmqpConsumer({
    rascal: rascalConfig({
      url: config.AMQP_URL,
      deliveryLimit: config.AMQP_DELIVERY_LIMIT,
      prefetch: config.AMQP_PREFETCH,
      closeTimeoutMs: stepMs,
      topology: config.AMQP_TOPOLOGY === "check" ? "check" : "declare",
      tls: amqpClientTls(config.AMQP_URL, config.AMQP_TLS_DIR),
    }) as BrokerConfig,
    prefetch: config.AMQP_PREFETCH,
    deliveryLimit: config.AMQP_DELIVERY_LIMIT,
    maxPayloadBytes: config.MAX_PAYLOAD_BYTES,
    closeTimeoutMs: stepMs,
    handleWork,
    metrics,
    readiness,
    logger: logger.child({ transport: "amqp" }),
  });
  const reference = new ReferenceEndpoints({
    grpcPort: config.REFERENCE_GRPC_PORT,
    httpPort: config.REFERENCE_HTTP_PORT,
    amqp: config.REFERENCE_AMQP === "on",
    amqpUrl: config.AMQP_URL,
    amqpTls: amqpClientTls(config.AMQP_URL, config.AMQP_TLS_DIR),
    prefetch: config.AMQP_PREFETCH,
    deliveryLimit: config.AMQP_DELIVERY_LIMIT,
    maxPayloadBytes: config.MAX_PAYLOAD_BYTES,
    readMaxBytes: config.READ_MAX_BYTES,
    closeTimeoutMs: stepMs,
    handleWork,
    metrics,
    readiness,
    logger,
  });
  const close = async () => {
    readiness.drain();
    await Promise.all([consumer.stopConsuming(), reference.stopConsuming()]);
    await Promise.all([servers.closeListeners(), reference.closeListeners()]);
    await Promise.all([consumer.close(), reference.close()]);
  };
  return { ...servers, consumer, reference, readiness, registry, handleWork, ledger, incarnation, close };
}
