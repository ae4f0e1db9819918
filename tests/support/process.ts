import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Repository root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** A service started as a real process by {@link startService}. */
export interface ServiceProcess {
  child: ChildProcess;
  /** http://127.0.0.1:PORT of the HTTP/1.1 listener. */
  httpUrl: string;
  /** http://127.0.0.1:PORT of the h2c listener. */
  h2cUrl: string;
  /** Every line written so far to stdout and stderr. */
  lines: string[];
  /** Sends `signal` (default SIGTERM) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code once the process ends by itself. */
  exited: Promise<number | null>;
}

/**
 * Starts `services/<name>/src/main.ts` with the same Node as the tests and `env` on top
 * of a minimal environment; both listeners on port 0. Resolves once both report their
 * addresses in the log.
 */
export async function startService(
  name: "handler" | "producer",
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [`services/${name}/src/main.ts`], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HTTP_PORT: "0", H2C_PORT: "0", BIND_HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ports: Partial<Record<"http" | "h2c", string>> = {};
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${lines.join("\n")}`)), timeoutMs);
    const onLine = (line: string) => {
      lines.push(line);
      const match = /"listener":"(http|h2c)".*Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (match) ports[match[1] as "http" | "h2c"] = match[2];
      if (ports.http && ports.h2c) {
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
      reject(new Error(`${name} exited with ${code} before listening:\n${lines.join("\n")}`));
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
    httpUrl: `http://127.0.0.1:${ports.http}`,
    h2cUrl: `http://127.0.0.1:${ports.h2c}`,
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
