import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Repository root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** A service started as a real process by {@link startService}. */
export interface ServiceProcess {
  child: ChildProcess;
  /** http(s)://HOST:PORT of the HTTP/1.1 listener. */
  httpUrl: string;
  /** http(s)://HOST:PORT of the h2c (or, under TLS, h2) listener. */
  h2cUrl: string;
  /** Every line written so far to stdout and stderr. */
  lines: string[];
  /** Sends `signal` (default SIGTERM) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code once the process ends by itself. */
  exited: Promise<number | null>;
}

/** Where and how {@link startService} runs a service. */
export interface StartOptions {
  /** Runs the service inside this network namespace (`/run/netns/<name>`). */
  netns?: string;
  /** Address the listeners bind and the URLs name; default 127.0.0.1. */
  host?: string;
  /** How long to wait for both listeners; default 20 s. */
  timeoutMs?: number;
}

/**
 * Starts `services/<name>/src/main.ts` with the same Node as the tests and `env` on top
 * of a minimal environment; both listeners on port 0. Resolves once both report their
 * addresses in the log (`http://` or, under TLS_DIR, `https://`). Inside a namespace it
 * runs under `nsenter --net`, which execs Node itself, so signals sent to the child
 * reach the service.
 */
export async function startService(
  name: "handler" | "producer",
  env: Record<string, string>,
  { netns, host = "127.0.0.1", timeoutMs = 20_000 }: StartOptions = {},
): Promise<ServiceProcess> {
  const main = `services/${name}/src/main.ts`;
  const [command, args] = netns ? ["nsenter", [`--net=/run/netns/${netns}`, process.execPath, main]] : [process.execPath, [main]];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HTTP_PORT: "0", H2C_PORT: "0", BIND_HOST: host, LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const listening: Partial<Record<"http" | "h2c", string>> = {};
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${lines.join("\n")}`)), timeoutMs);
    const onLine = (line: string) => {
      lines.push(line);
      const match = /"listener":"(http|h2c)".*Server listening at (https?):\/\/[^ "]*:(\d+)/.exec(line);
      if (match) listening[match[1] as "http" | "h2c"] = `${match[2]}://${host}:${match[3]}`;
      if (listening.http && listening.h2c) {
        clearTimeout(timer);
        resolve();
      }
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let buffered = "";
      stream.setEncoding("utf8").on("data", (chunk: string) => {
        buffered += chunk;
        const parts = buffered.split("\n");
        buffered = parts.pop()!;
        parts.forEach(onLine);
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code ?? child.signalCode} before listening:\n${lines.join("\n")}`));
    });
  });
  // A service that never reported both listeners is killed here, not left running
  // after the test that started it has failed.
  await ready.catch(async (error: unknown) => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
    throw error;
  });
  return {
    child,
    lines,
    exited,
    httpUrl: listening.http!,
    h2cUrl: listening.h2c!,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs a service expecting it to exit at once; resolves with its exit code and output. */
export async function runToExit(
  name: "handler" | "producer",
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [`services/${name}/src/main.ts`], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
