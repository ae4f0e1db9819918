/**
 * Every row `npm run bench` measures, grouped as they are printed. The first row of a
 * group is its reference: the floor the other rows are divided by.
 *
 * - `server`: a server process on the measured core, a neutral load generator (ghz or
 *   wrk) on the other; CPU is the server's.
 * - `client`: a client process on the measured core against a reference server on the
 *   other; CPU is the client's.
 * - `amqp`: a publisher on the measured core and a consumer on the other, each on its
 *   own vhost of the shared broker; CPU is each one's, throughput end to end.
 */
export type Row =
  | { group: string; name: string; kind: "server"; server: string; serverArgs?: string[]; generator: "ghz" | "wrk"; url: "grpcUrl" | "httpUrl" }
  | { group: string; name: string; kind: "client"; client: string; target: string; url: "grpcUrl" | "httpUrl" }
  | { group: string; name: string; kind: "amqp"; publisher: string; consumer: string; vhost: string };

export const ROWS: readonly Row[] = [
  { group: "gRPC server", name: "grpc-js server (reference)", kind: "server", server: "servers/grpc-js.ts", generator: "ghz", url: "grpcUrl" },
  { group: "gRPC server", name: "bare connect-node, h2c", kind: "server", server: "servers/connect-node.ts", generator: "ghz", url: "grpcUrl" },
  { group: "gRPC server", name: "switchyard handler", kind: "server", server: "servers/handler.ts", generator: "ghz", url: "grpcUrl" },
  { group: "gRPC client", name: "grpc-js client (reference)", kind: "client", client: "clients/grpc-js.ts", target: "servers/grpc-js.ts", url: "grpcUrl" },
  { group: "gRPC client", name: "producer's sender (connect-node)", kind: "client", client: "clients/connect-node.ts", target: "servers/grpc-js.ts", url: "grpcUrl" },
  { group: "Connect JSON server", name: "node:http route (reference)", kind: "server", server: "servers/node-http.ts", generator: "wrk", url: "httpUrl" },
  { group: "Connect JSON server", name: "bare connect-fastify", kind: "server", server: "servers/connect-fastify.ts", generator: "wrk", url: "httpUrl" },
  { group: "Connect JSON server", name: "switchyard handler", kind: "server", server: "servers/handler.ts", generator: "wrk", url: "httpUrl" },
  { group: "Connect JSON client", name: "fetch (reference)", kind: "client", client: "clients/fetch.ts", target: "servers/node-http.ts", url: "httpUrl" },
  { group: "Connect JSON client", name: "producer's sender (connect-node)", kind: "client", client: "clients/connect-json.ts", target: "servers/node-http.ts", url: "httpUrl" },
  { group: "AMQP", name: "raw amqplib (reference)", kind: "amqp", publisher: "amqp/raw-publisher.ts", consumer: "amqp/raw-consumer.ts", vhost: "raw" },
  { group: "AMQP", name: "bare Rascal", kind: "amqp", publisher: "amqp/rascal-publisher.ts", consumer: "amqp/rascal-consumer.ts", vhost: "rascal" },
  { group: "AMQP", name: "producer → handler", kind: "amqp", publisher: "amqp/producer.ts", consumer: "servers/handler.ts", vhost: "switchyard" },
];
