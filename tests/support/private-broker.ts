import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chownSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
  /** The AMQP port, on every address the node listens on. */
  port: number;
  /** The AMQPS port on 127.0.0.1, when started with {@link PrivateBrokerOptions.tls}. */
  tlsPort?: number;
  /** Runs `rabbitmqctl -q -n <node> <args>` and resolves with its standard output. */
  ctl(...args: string[]): Promise<string>;
  /** Stops the RabbitMQ application, leaving the Erlang node up (connections drop). */
  stopApp(): Promise<void>;
  /** Starts the application again and waits until it accepts AMQP connections. */
  startApp(): Promise<void>;
  /**
   * Kills the Erlang VM with SIGKILL, as a crash or the OOM killer would: no clean
   * shutdown. Resolves once the AMQP port is closed. {@link start} brings it back.
   */
  kill(): Promise<void>;
  /** Starts the node again after {@link kill}, on the same ports and data directory, and waits until it accepts AMQP connections. */
  start(): Promise<void>;
  /** Stops the node and removes its files. */
  destroy(): Promise<void>;
}

/** Options for {@link startPrivateBroker}. */
export interface PrivateBrokerOptions {
  /**
   * Address the AMQP listener binds (default 127.0.0.1), and the host of `url`. Pass the
   * host's address on a network namespace's veth pair to let processes inside reach it.
   */
  bindAddress?: string;
  /**
   * Lets guest log in from any address, not only loopback (RabbitMQ's default refuses
   * it). Only for a node bound where the test's own namespaces can reach it.
   */
  guestFromAnywhere?: boolean;
  /**
   * Turns on the TLS listener (`listeners.ssl`) on a free port on 127.0.0.1, with this
   * certificate and key and these CAs for client certificates (PEM files; copied into
   * the node's directory so the rabbitmq user can read them).
   */
  tls?: {
    certFile: string;
    keyFile: string;
    caFile: string;
    /** Refuse clients without a certificate the CAs verify (verify_peer + fail_if_no_peer_cert). */
    requireClientCertificate?: boolean;
  };
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

async function accepts(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const client = connect(port, host);
    client.once("connect", () => {
      client.destroy();
      resolve(true);
    });
    client.once("error", () => resolve(false));
  });
}

async function waitForPort(port: number, open: boolean, timeoutMs: number, host = "127.0.0.1"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await accepts(port, host)) !== open) {
    if (Date.now() > deadline) throw new Error(`port ${port} did not ${open ? "open" : "close"} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Starts a second RabbitMQ node from Debian's package, entirely in a temporary
 * directory owned by the `rabbitmq` user (which Debian's scripts run as), on free ports,
 * with no plugins. Ready in roughly 10-15 s. Needs root, as the Debian scripts do.
 */
export async function startPrivateBroker(options: PrivateBrokerOptions = {}): Promise<PrivateBroker> {
  if (process.getuid?.() !== 0) throw new Error("a private RabbitMQ node needs root (Debian's scripts switch to the rabbitmq user)");
  const [amqpPort, distPort] = [await freePort(), await freePort()];
  const name = `switchyard-test-${amqpPort}`;
  const node = `${name}@${hostname().split(".")[0]}`;
  const dir = mkdtempSync(join(tmpdir(), "switchyard-broker-"));
  const { stdout: uid } = await run("id", ["-u", "rabbitmq"]);
  const { stdout: gid } = await run("id", ["-g", "rabbitmq"]);
  const tlsPort = options.tls ? await freePort() : undefined;
  const config = [`loopback_users.guest = ${options.guestFromAnywhere ? "false" : "true"}`];
  if (options.tls) {
    for (const [file, name] of [[options.tls.certFile, "server.crt"], [options.tls.keyFile, "server.key"], [options.tls.caFile, "ca.crt"]] as const) {
      copyFileSync(file, join(dir, name));
    }
    const required = options.tls.requireClientCertificate ?? false;
    config.push(
      `listeners.ssl.1 = 127.0.0.1:${tlsPort}`,
      `ssl_options.cacertfile = ${join(dir, "ca.crt")}`,
      `ssl_options.certfile = ${join(dir, "server.crt")}`,
      `ssl_options.keyfile = ${join(dir, "server.key")}`,
      `ssl_options.verify = ${required ? "verify_peer" : "verify_none"}`,
      `ssl_options.fail_if_no_peer_cert = ${required}`,
    );
  }
  writeFileSync(join(dir, "rabbitmq.conf"), `${config.join("\n")}\n`);
  writeFileSync(join(dir, "enabled_plugins"), "[].\n");
  chownSync(dir, Number(uid), Number(gid));
  for (const name of options.tls ? ["server.crt", "server.key", "ca.crt"] : []) chownSync(join(dir, name), Number(uid), Number(gid));
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_IP_ADDRESS: options.bindAddress ?? "127.0.0.1",
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
  const spawnNode = () => {
    const child: ChildProcess = spawn(
      "su",
      ["rabbitmq", "-s", "/bin/sh", "-c", `cd ${dir} && exec /usr/lib/rabbitmq/bin/rabbitmq-server >> ${dir}/out.log 2>&1`],
      { env, stdio: "ignore", detached: true },
    );
    child.unref();
  };
  const ctl = (...args: string[]) => run("rabbitmqctl", ["-q", "-n", node, ...args], { env, timeout: 60_000 });
  const host = options.bindAddress ?? "127.0.0.1";
  const waitFor = (open: boolean, timeoutMs: number) => waitForPort(amqpPort, open, timeoutMs, host);
  spawnNode();
  await waitFor(true, 60_000);
  if (tlsPort !== undefined) await waitForPort(tlsPort, true, 30_000);
  return {
    url: `amqp://guest:guest@${host}:${amqpPort}/`,
    node,
    port: amqpPort,
    tlsPort,
    ctl: async (...args) => (await ctl(...args)).stdout,
    stopApp: async () => {
      await ctl("stop_app");
      await waitFor(false, 30_000);
    },
    startApp: async () => {
      await ctl("start_app");
      await waitFor(true, 60_000);
    },
    kill: async () => {
      // The VM writes its OS pid to RABBITMQ_PID_FILE once booted.
      const pid = Number(readFileSync(join(dir, "pid"), "utf8").trim());
      if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no pid in ${join(dir, "pid")}`);
      process.kill(pid, "SIGKILL");
      await waitFor(false, 30_000);
    },
    start: async () => {
      spawnNode();
      await waitFor(true, 90_000);
    },
    destroy: async () => {
      await ctl("stop").catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
