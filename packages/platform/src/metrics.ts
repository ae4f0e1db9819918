import { collectDefaultMetrics, Gauge, Registry } from "prom-client";

/**
 * The one bucket list every switchyard latency histogram uses, in seconds. It starts at
 * 100 µs so loopback RPCs (often well under a millisecond) land in distinct buckets,
 * and ends at 10 s, past every deadline the services set.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
  10,
];

/** The Contract's three compared transports; their series exist from the first scrape. */
export const TRANSPORTS = ["grpc", "connect", "amqp"] as const;

/**
 * Further protocols the RPC listeners also speak, counted under their own label so they
 * never blur the three compared ones: gRPC-Web, and the Connect protocol with binary
 * protobuf bodies.
 */
export const EXTRA_TRANSPORTS = ["grpc_web", "connect_proto"] as const;

/**
 * The reference implementations `compare --reference` measures beside the three, each
 * against its own optional handler endpoint calling the same handleWork: a @grpc/grpc-js
 * server and client (`grpc_js`), a plain node:http route taking protobuf JSON
 * (`http_json`), and raw amqplib on its own queue (`amqplib`). Their own labels keep
 * them apart from the library rows they are the floor of.
 */
export const REFERENCE_TRANSPORTS = ["grpc_js", "http_json", "amqplib"] as const;

/** Every value the `transport` label can take; nothing else is ever emitted. */
export type Transport = (typeof TRANSPORTS)[number] | (typeof EXTRA_TRANSPORTS)[number] | (typeof REFERENCE_TRANSPORTS)[number];

/**
 * Creates a service's own Registry (never the global one, so tests can build many apps
 * in one process) with Node's default process metrics and `switchyard_build_info`.
 */
export function createRegistry(service: string, version: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const buildInfo = new Gauge({
    name: "switchyard_build_info",
    help: "Always 1; labels identify the service and its version.",
    labelNames: ["service", "version"] as const,
    registers: [registry],
  });
  buildInfo.set({ service, version }, 1);
  return registry;
}
