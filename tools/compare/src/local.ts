import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { get as httpGet } from "node:http";
import { get as httpsGet } from "node:https";
import { createServer, Socket } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { referenceHandlerEnv, referenceProducerEnv } from "./reference.ts";
import { handlerScheme, handlerTlsEnv, probeCa, producerTlsEnv, type LocalSecurity } from "./tls/service-env.ts";

/** Repository root. */
export const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

/** A service process started by {@link startLocalServices}. */
interface Child {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** How many handlers to start and how the producer's RPC senders spread over them. */
export interface LocalOptions {
  /** Handler processes, each its own replica: competing AMQP consumers, RPC targets. */
  handlers: number;
  /** The producer's HANDLER_RPC_BALANCING. */
  rpcBalancing: "round_robin" | "off";
  /**
   * `compare --tls`: the handlers' listeners and both services' broker connections in
   * this mode, and ObservationService on each handler's own ops listener (OPS_PORT), so
   * the data listeners carry only the messages measured, in cleartext runs too.
   */
  security?: LocalSecurity;
  /** `compare --reference`: every handler's reference endpoints and the producer's reference senders on. */
  reference?: boolean;
}

/** The handlers and producer running locally for one comparison. */
export interface LocalServices {
  producerUrl: string;
  /** Every handler's HTTP listener, in start order. */
  handlerUrls: string[];
  /** Every handler's HTTP/2 (gRPC) listener, in start order. */
  handlerGrpcUrls: string[];
  /** Process ids: the producer's, then the handlers' in start order. */
  pids: { producer: number; handlers: number[] };
  /** Stops both processes (SIGTERM, then SIGKILL after a grace period). */
  stop(): Promise<void>;
  /** Kills both processes at once (SIGKILL), for a second Ctrl-C. */
  kill(): void;
}

/** Resolves true when something accepts TCP connections on host:port. */
export function reachable(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("error", () => done(false));
    socket.connect(port, host, () => done(true));
  });
}

/**
 * Makes sure the broker in `amqpUrl` answers. A local one that does not is started
 * with scripts/ensure-rabbitmq.sh (installing it if needed); a remote one is only
 * checked.
 */
export async function ensureBroker(amqpUrl: string, log: (line: string) => void): Promise<void> {
  const url = new URL(amqpUrl);
  const host = url.hostname;
  const port = Number(url.port || (url.protocol === "amqps:" ? 5671 : 5672));
  if (await reachable(host, port)) return;
  if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(host)) {
    throw new Error(`the broker at ${host}:${port} does not answer`);
  }
  log("RabbitMQ is not running here; starting it with scripts/ensure-rabbitmq.sh");
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn("bash", [join(ROOT, "scripts/ensure-rabbitmq.sh")], { stdio: ["ignore", "inherit", "inherit"] });
    child.once("exit", resolve);
    child.once("error", () => resolve(1));
  });
  if (code !== 0) throw new Error(`scripts/ensure-rabbitmq.sh failed (exit ${code})`);
}

/** Ports nobody listens on right now, from the OS. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve(server));
      }),
    ),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

function start(name: string, env: Record<string, string>, logDir: string): Child {
  const service = name.startsWith("handler") ? "handler" : "producer";
  const log = createWriteStream(join(logDir, `${name}.log`));
  const child = spawn(process.execPath, [join(ROOT, `services/${service}/src/main.ts`)], {
    cwd: ROOT,
    // A small, explicit environment: a stray variable in the caller's shell must not change the figures.
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", BIND_HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: a Ctrl-C at the terminal reaches compare only, which stops
    // the run first (keeping partial results) and then these processes, in order.
    detached: true,
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      log.end();
      resolve(code);
    });
  });
  return { name, child, exited };
}

/** Whether GET `url` answers 2xx within a second; `ca` verifies an https:// server. */
function answersOk(url: string, ca: Buffer | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const request = (url.startsWith("https:") ? httpsGet(url, { ca, timeout: 1_000 }) : httpGet(url, { timeout: 1_000 }))
      .once("response", (response) => {
        response.resume();
        resolve((response.statusCode ?? 0) >= 200 && (response.statusCode ?? 0) < 300);
      })
      .once("timeout", () => request.destroy())
      .once("error", () => resolve(false));
  });
}

async function waitReady(url: string, child: Child, timeoutMs: number, logDir: string, ca?: Buffer): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`the ${child.name} exited at start; see ${join(logDir, `${child.name}.log`)}`);
    // false: not listening yet.
    if (await answersOk(`${url}/readyz`, ca)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the ${child.name} was not ready within ${timeoutMs / 1000} s; see ${join(logDir, `${child.name}.log`)}`);
}

async function stopChild({ child, exited }: Child, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts `handlers` handlers and the producer from this checkout on free loopback
 * ports, with their logs in `logDir`, and resolves once all are ready. One handler logs
 * to handler.log, several to handler-1.log, handler-2.log, ….
 */
export async function startLocalServices(amqpUrl: string, logDir: string, options: LocalOptions = { handlers: 1, rpcBalancing: "round_robin" }): Promise<LocalServices> {
  const security = options.security;
  const perHandler = security ? 3 : 2;
  const ports = await freePorts(perHandler * options.handlers + 2);
  const [producerHttp, producerH2c] = ports.splice(0, 2);
  const free = options.reference ? await freePorts(2 * options.handlers) : [];
  const referencePorts = Array.from({ length: free.length / 2 }, (_, index) => ({ grpc: free[2 * index]!, http: free[2 * index + 1]! }));
  const scheme = handlerScheme(security?.mode ?? "cleartext");
  const handlers = Array.from({ length: options.handlers }, (_, index) => {
    const [http, h2c, ops] = ports.slice(perHandler * index, perHandler * (index + 1));
    const name = options.handlers === 1 ? "handler" : `handler-${index + 1}`;
    const reference = referencePorts[index];
    const env = { HTTP_PORT: String(http), H2C_PORT: String(h2c), AMQP_URL: amqpUrl, HANDLER_ID: `compare-${name}`, ...(reference && referenceHandlerEnv(reference.grpc, reference.http)) };
    const child = start(name, security ? { ...env, OPS_PORT: String(ops), ...handlerTlsEnv(security) } : env, logDir);
    const opsUrl = `${scheme}://127.0.0.1:${security ? ops : http}`;
    return { child, httpUrl: `${scheme}://127.0.0.1:${http}`, h2cUrl: `${scheme}://127.0.0.1:${h2c}`, opsUrl };
  });
  const handlerUrls = handlers.map((handler) => handler.httpUrl);
  const producer = start("producer", {
    HTTP_PORT: String(producerHttp),
    H2C_PORT: String(producerH2c),
    AMQP_URL: amqpUrl,
    PRODUCER_ID: "compare",
    HANDLER_HTTP_URL: handlerUrls[0]!,
    HANDLER_GRPC_URL: handlers[0]!.h2cUrl,
    HANDLER_HTTP_URLS: handlerUrls.join(","),
    HANDLER_GRPC_URLS: handlers.map((handler) => handler.h2cUrl).join(","),
    HANDLER_OBSERVATION_URLS: handlers.map((handler) => handler.opsUrl).join(","),
    HANDLER_RPC_BALANCING: options.rpcBalancing,
    ...(security && producerTlsEnv(security)),
    ...(referencePorts.length > 0 && referenceProducerEnv(referencePorts)),
  }, logDir);
  const children = [producer, ...handlers.map((handler) => handler.child)];
  const stop = async () => {
    // The producer first: it may still be sending to the handlers.
    await stopChild(producer, 10_000);
    await Promise.all(handlers.map((handler) => stopChild(handler.child, 10_000)));
  };
  try {
    await Promise.all([
      ...handlers.map((handler) => waitReady(handler.opsUrl, handler.child, 30_000, logDir, probeCa(security))),
      waitReady(`http://127.0.0.1:${producerHttp}`, producer, 30_000, logDir),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  const kill = () => {
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  // Should compare itself end abruptly, take the services along.
  process.once("exit", kill);
  return {
    producerUrl: `http://127.0.0.1:${producerHttp}`,
    handlerUrls,
    handlerGrpcUrls: handlers.map((handler) => handler.h2cUrl),
    pids: { producer: producer.child.pid!, handlers: handlers.map((handler) => handler.child.child.pid!) },
    stop,
    kill,
  };
}
