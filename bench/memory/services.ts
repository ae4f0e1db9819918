import { spawn, type ChildProcess } from "node:child_process";
import type { WriteStream } from "node:fs";
import { createServer } from "node:net";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A service process as `npm start` (compare's local services) runs it: `node services/<name>/src/main.ts`. */
export interface ServiceProcess {
  name: string;
  pid: number;
  httpUrl: string;
  grpcUrl: string;
  stop(): Promise<void>;
}

/** Ports nobody listens on right now, from the OS. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
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

/**
 * Starts `services/<service>/src/main.ts` with compare's small explicit environment plus
 * `env`, its output into `log`, and resolves once its /readyz answers 200 (at most 60 s).
 */
export async function startService(service: "handler" | "producer", name: string, env: Record<string, string>, log: WriteStream): Promise<ServiceProcess> {
  const [http, h2c] = await freePorts(2);
  const child: ChildProcess = spawn(process.execPath, [`${ROOT}services/${service}/src/main.ts`], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", BIND_HOST: "127.0.0.1", LOG_LEVEL: "info", HTTP_PORT: String(http), H2C_PORT: String(h2c), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (chunk: Buffer) => log.write(`[${name}] ${chunk}`));
  child.stderr!.on("data", (chunk: Buffer) => log.write(`[${name}] ${chunk}`));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once("exit", () => ((exited = true), resolve())));
  const httpUrl = `http://127.0.0.1:${http}`;
  const stop = async () => {
    if (exited) return;
    child.kill("SIGTERM");
    const kill = setTimeout(() => child.kill("SIGKILL"), 25_000);
    await exit;
    clearTimeout(kill);
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`${name} exited at start; see the log`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} not ready within 60 s; see the log`);
    }
    const ready = await fetch(`${httpUrl}/readyz`, { signal: AbortSignal.timeout(1_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { name, pid: child.pid!, httpUrl, grpcUrl: `http://127.0.0.1:${h2c}`, stop };
}

/** The producer's environment pointing at `handler`, as compare sets it for one handler. */
export function producerEnv(handler: ServiceProcess, amqpUrl: string): Record<string, string> {
  return {
    AMQP_URL: amqpUrl,
    PRODUCER_ID: "bench-memory",
    HANDLER_HTTP_URL: handler.httpUrl,
    HANDLER_GRPC_URL: handler.grpcUrl,
    HANDLER_HTTP_URLS: handler.httpUrl,
    HANDLER_GRPC_URLS: handler.grpcUrl,
    HANDLER_OBSERVATION_URLS: handler.httpUrl,
  };
}
