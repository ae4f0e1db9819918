// Bare connect-node on h2c: Node's HTTP/2 server and connectNodeAdapter with a trivial
// handler. No Fastify, none of switchyard's layers.
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { serveCommands } from "../lib/child.ts";
import { BENCH_LIMITS, trivialRoutes } from "./trivial-handler.ts";

const server = createServer(connectNodeAdapter({ routes: trivialRoutes, ...BENCH_LIMITS }));
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  serveCommands({ grpcUrl: `http://127.0.0.1:${port}` }, () => ({}), () => new Promise((resolve) => server.close(() => resolve())));
});
