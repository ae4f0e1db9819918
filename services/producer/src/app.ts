import type { Logger } from "pino";
import type { BrokerConfig } from "rascal";
import { ProducerService } from "@switchyard/contracts";
import {
  BrokerCpu,
  defaultManagementUrl,
  HandlerDirectory,
  HandlerFleet,
  ManagementApi,
  type CompareTransport,
  type LibraryTransport,
  type ReferenceTransport,
  type Sender,
} from "@switchyard/measurement";
import { amqpClientTls, createRegistry, createServers, rascalConfig, Readiness, serverTlsConfig, type Servers, ReloadingClientTls } from "@switchyard/platform";
import { isIP } from "node:net";
import type { Registry } from "prom-client";
import { BackgroundLoad } from "./background.ts";
import type { ProducerConfig } from "./config.ts";
import { createProducerMetrics } from "./metrics.ts";
import { RunManager } from "./runs.ts";
import { AmqpSender } from "./senders/amqp.ts";
import { RoundRobinSender } from "./senders/balanced.ts";
import { ConnectSender } from "./senders/connect.ts";
import { GrpcSender } from "./senders/grpc.ts";
import { referenceSenders } from "./senders/reference/senders.ts";
import { instrument } from "./senders/sender.ts";
import { producerRoutes } from "./transports/connect.ts";
import packageJson from "../package.json" with { type: "json" };

/** The producer, built and wired but not listening, publishing or sending. */
export interface ProducerApp extends Servers {
  readiness: Readiness;
  registry: Registry;
  runs: RunManager;
  /** Instrumented senders, one per transport. */
  senders: Record<LibraryTransport, Sender>;
  /** Instrumented reference senders switched on by REFERENCE_* (none by default). */
  references: Partial<Record<ReferenceTransport, Sender>>;
  amqp: AmqpSender;
  background: BackgroundLoad;
  /** Connects to the broker and starts the background load; call once listening. */
  start(): void;
  /**
   * Shuts down: not ready → stop runs (kept as stopped) and background load → close
   * listeners, draining in-flight RPCs → close the senders and the broker connection.
   */
  close(): Promise<void>;
}

/** Builds the producer from validated configuration. Never listens: see main.ts. */
export async function build(config: ProducerConfig, logger: Logger): Promise<ProducerApp> {
  const readiness = new Readiness();
  const registry = createRegistry("producer", packageJson.version);
  const metrics = createProducerMetrics(registry);
  const amqp = new AmqpSender({
    rascal: rascalConfig({
      url: config.AMQP_URL,
      deliveryLimit: config.AMQP_DELIVERY_LIMIT,
      topology: config.AMQP_TOPOLOGY,
      tls: amqpClientTls(config.AMQP_URL, config.AMQP_TLS_DIR),
    }) as BrokerConfig,
    window: config.AMQP_CONFIRM_WINDOW,
    readiness,
    logger: logger.child({ transport: "amqp" }),
  });
  const httpUrls = config.HANDLER_HTTP_URLS.length > 0 ? config.HANDLER_HTTP_URLS : [config.HANDLER_HTTP_URL];
  const grpcUrls = config.HANDLER_GRPC_URLS.length > 0 ? config.HANDLER_GRPC_URLS : [config.HANDLER_GRPC_URL];
  // Pinned: one connection to the first URL as given. Balanced: round robin over every resolved address.
  const rpcSender = (transport: CompareTransport, urls: string[], connect: (url: string) => Sender): Sender =>
    config.HANDLER_RPC_BALANCING === "off" ? connect(urls[0]!) : new RoundRobinSender(transport, new HandlerDirectory(urls), connect);
  // Read once here (validated by config.ts) and reloaded when its files change: every
  // new connection to a handler, data or observation, takes the current material.
  const handlerTls = config.HANDLER_TLS_DIR === "" ? undefined : new ReloadingClientTls(config.HANDLER_TLS_DIR, "HANDLER_TLS_DIR", logger);
  // Balancing replaces the host name by each resolved address: the handler's
  // certificate is still checked against the name configured.
  const tlsFor = (urls: string[]) => {
    const host = new URL(urls[0]!).hostname.replace(/^\[|\]$/g, "");
    return { reloading: handlerTls, ...(isIP(host) === 0 && { servername: host }) };
  };
  const senders: Record<LibraryTransport, Sender> = {
    grpc: instrument(rpcSender("grpc", grpcUrls, (url) => new GrpcSender(url, tlsFor(grpcUrls))), metrics),
    connect: instrument(rpcSender("connect", httpUrls, (url) => new ConnectSender(url, tlsFor(httpUrls))), metrics),
    amqp: instrument(amqp, metrics),
  };
  const references = Object.fromEntries(
    Object.entries(referenceSenders(config, rpcSender, amqpClientTls(config.AMQP_URL, config.AMQP_TLS_DIR), logger)).map(([transport, sender]) => [transport, instrument(sender, metrics)]),
  ) as Partial<Record<ReferenceTransport, Sender>>;
  const observationUrls = config.HANDLER_OBSERVATION_URLS.length > 0 ? config.HANDLER_OBSERVATION_URLS : httpUrls;
  const probe = new HandlerFleet(new HandlerDirectory(observationUrls), tlsFor(observationUrls));
  const background = new BackgroundLoad({
    rates: { grpc: config.BACKGROUND_RATE_GRPC, connect: config.BACKGROUND_RATE_CONNECT, amqp: config.BACKGROUND_RATE_AMQP },
    payloadBytes: config.BACKGROUND_PAYLOAD_BYTES,
    senders,
    sendTimeoutMs: config.SEND_TIMEOUT_MS,
    producerId: config.PRODUCER_ID,
    logger,
  });
  const managementUrl = config.AMQP_MANAGEMENT_URL || defaultManagementUrl(config.AMQP_URL);
  const runs = new RunManager({
    senders: { ...senders, ...references },
    probe,
    broker: new ManagementApi(managementUrl, config.AMQP_URL),
    brokerCpu: new BrokerCpu(managementUrl, config.AMQP_URL),
    producerId: config.PRODUCER_ID,
    context: { maxPayloadBytes: config.HANDLER_MAX_PAYLOAD_BYTES, sendTimeoutMs: config.SEND_TIMEOUT_MS },
    logger: logger.child({ component: "runs" }),
    onActive: background.enabled ? (active) => background.pause(active) : undefined,
  });
  // Half the grace each for stopping runs and for draining RPCs keeps the whole inside SHUTDOWN_GRACE_MS.
  const drainMs = Math.floor(config.SHUTDOWN_GRACE_MS / 2);
  const servers = await createServers({
    logger,
    readiness,
    registry,
    routes: producerRoutes({ runs }),
    services: [ProducerService.typeName],
    tls: serverTlsConfig(config),
    separateOps: config.OPS_PORT !== undefined,
    limits: { readMaxBytes: 1024 * 1024, maxTimeoutMs: 24 * 3600 * 1000, shutdownTimeoutMs: drainMs },
  });
  const start = () => {
    amqp.start();
    background.start();
  };
  const close = async () => {
    readiness.drain();
    background.close();
    await Promise.race([runs.close(), new Promise((resolve) => setTimeout(resolve, drainMs).unref())]);
    await servers.closeListeners();
    await Promise.all([...Object.values(senders), ...Object.values(references)].map((sender) => sender.close()));
    probe.close();
    handlerTls?.close();
  };
  return { ...servers, readiness, registry, runs, senders, references, amqp, background, start, close };
}
