// Bare connect-fastify on HTTP/1.1: Fastify and fastifyConnectPlugin with a trivial
// handler, serving Connect JSON. None of switchyard's layers.
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import { fastify } from "fastify";
import { serveCommands } from "../lib/child.ts";
import { BENCH_LIMITS, trivialRoutes } from "./trivial-handler.ts";

const app = fastify();
await app.register(fastifyConnectPlugin, { routes: trivialRoutes, ...BENCH_LIMITS });
const address = await app.listen({ host: "127.0.0.1", port: 0 });
serveCommands({ httpUrl: address }, () => ({}), () => app.close());
