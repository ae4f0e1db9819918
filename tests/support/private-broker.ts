import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A RabbitMQ node of the test's own, for tests that stop, restart or break the broker. */
export interface PrivateBroker {
  /** amqp URL of the default vhost, as guest over loopback. */
  url: string;
  /** Erlang node name, for rabbitmqctl -n. */
  node: string;
  /** Stops the RabbitMQ application, leaving the Erlang node up (connections drop). */
  stopApp(): Promise<void>;
  /** Starts the application again and waits until it accepts AMQP connections. */
  startApp(): Promise<void>;
  /** Stops the node and removes its files. */
  destroy(): Promise<void>;
}

/** Asks the OS for a free loopback TCP port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const client = connect(port, "127.0.0.1");
    client.once("connect", () => {
      client.destroy();
      resolve(true);
    });
    client.once("error", () => resolve(false));
  });
}

async function waitForPort(port: number, open: boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await accepts(port)) !== open) {
    if (Date.now() > deadline) throw new Error(`port ${port} did not ${open ? "open" : "close"} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Starts a second RabbitMQ node from Debian's package, entirely in a temporary
 * directory owned by the `rabbitmq` user (which Debian's scripts run as), on free ports,
 * with no plugins. Ready in roughly 10-15 s. Needs root, as the Debian scripts do.
 */
export async function startPrivateBroker(): Promise<PrivateBroker> {
  if (process.getuid?.() !== 0) throw new Error("a private RabbitMQ node needs root (Debian's scripts switch to the rabbitmq user)");
  const [amqpPort, distPort] = [await freePort(), await freePort()];
  const name = `switchyard-test-${amqpPort}`;
  const node = `${name}@${hostname().split(".")[0]}`;
  const dir = mkdtempSync(join(tmpdir(), "switchyard-broker-"));
  const { stdout: uid } = await run("id", ["-u", "rabbitmq"]);
  const { stdout: gid } = await run("id", ["-g", "rabbitmq"]);
  writeFileSync(join(dir, "rabbitmq.conf"), "loopback_users.guest = true\n");
  writeFileSync(join(dir, "enabled_plugins"), "[].\n");
  chownSync(dir, Number(uid), Number(gid));
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
    RABBITMQ_NODE_PORT: String(amqpPort),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, "mnesia"),
    RABBITMQ_LOG_BASE: join(dir, "log"),
    RABBITMQ_CONFIG_FILE: join(dir, "rabbitmq.conf"),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, "enabled_plugins"),
    RABBITMQ_PID_FILE: join(dir, "pid"),
    HOME: "/var/lib/rabbitmq",
  };
  // Run the node in the foreground under `su` so its output stays in our directory.
  const child: ChildProcess = spawn(
    "su",
    ["rabbitmq", "-s", "/bin/sh", "-c", `cd ${dir} && exec /usr/lib/rabbitmq/bin/rabbitmq-server > ${dir}/out.log 2>&1`],
    { env, stdio: "ignore", detached: true },
  );
  child.unref();
  const ctl = (...args: string[]) => run("rabbitmqctl", ["-q", "-n", node, ...args], { env, timeout: 60_000 });
  await waitForPort(amqpPort, true, 60_000);
  return {
    url: `amqp://guest:guest@127.0.0.1:${amqpPort}/`,
    node,
    stopApp: async () => {
      await ctl("stop_app");
      await waitForPort(amqpPort, false, 30_000);
    },
    startApp: async () => {
      await ctl("start_app");
      await waitForPort(amqpPort, true, 60_000);
    },
    destroy: async () => {
      await ctl("stop").catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
