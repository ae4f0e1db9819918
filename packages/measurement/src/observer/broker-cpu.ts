import { readFile } from "node:fs/promises";

/** Clock ticks per second of /proc's CPU times (USER_HZ; 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

/** Where a reading of the broker's CPU came from. */
export type BrokerCpuSource = "local process" | "broker metrics";

/** The broker's cumulative CPU time at one moment. */
export interface BrokerCpuReading {
  ms: number;
  source: BrokerCpuSource;
}

/**
 * The RabbitMQ node's CPU time, so an AMQP phase is charged for the broker it needs.
 * On the same machine (compare's local run) it reads the node's process from /proc, the
 * process id coming from the management API; elsewhere it reads
 * `process_cpu_seconds_total` from the node's Prometheus endpoint (port 15692), when
 * that RabbitMQ version exposes it. Undefined when neither can be read.
 */
export class BrokerCpu {
  readonly #managementUrl: string;
  readonly #metricsUrl: string;
  readonly #authorization: string;
  readonly #timeoutMs: number;

  constructor(managementUrl: string, amqpUrl: string, timeoutMs = 3_000) {
    const amqp = new URL(amqpUrl);
    this.#managementUrl = managementUrl.replace(/\/$/, "");
    this.#metricsUrl = `http://${amqp.hostname}:15692/metrics`;
    this.#authorization = `Basic ${Buffer.from(`${decodeURIComponent(amqp.username || "guest")}:${decodeURIComponent(amqp.password || "guest")}`).toString("base64")}`;
    this.#timeoutMs = timeoutMs;
  }

  /** The node's CPU time so far, or undefined. */
  async read(): Promise<BrokerCpuReading | undefined> {
    return (await this.#fromProc()) ?? (await this.#fromMetrics());
  }

  async #fromProc(): Promise<BrokerCpuReading | undefined> {
    try {
      const response = await fetch(`${this.#managementUrl}/api/nodes?columns=os_pid`, {
        headers: { authorization: this.#authorization },
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      if (!response.ok) return undefined;
      const nodes = (await response.json()) as Array<{ os_pid?: string | number }>;
      let ms = 0;
      for (const node of nodes) {
        const pid = Number(node.os_pid);
        // Another machine's pid could name an unrelated local process: insist on the Erlang VM.
        if (!Number.isInteger(pid) || !(await readFile(`/proc/${pid}/comm`, "utf8")).startsWith("beam")) return undefined;
        ms += procCpuMs(await readFile(`/proc/${pid}/stat`, "utf8"));
      }
      return nodes.length > 0 ? { ms, source: "local process" } : undefined;
    } catch {
      return undefined;
    }
  }

  async #fromMetrics(): Promise<BrokerCpuReading | undefined> {
    try {
      const response = await fetch(this.#metricsUrl, { signal: AbortSignal.timeout(this.#timeoutMs) });
      if (!response.ok) return undefined;
      const match = /^process_cpu_seconds_total(?:\{[^}]*\})?\s+(\S+)/m.exec(await response.text());
      return match ? { ms: Number(match[1]) * 1000, source: "broker metrics" } : undefined;
    } catch {
      return undefined;
    }
  }
}

/** User plus system CPU of a /proc/<pid>/stat line, in milliseconds. */
export function procCpuMs(stat: string): number {
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15, i.e. 12 and 13 after the state field (3).
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}
