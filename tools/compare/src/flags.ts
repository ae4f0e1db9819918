import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { RunSpecSchema, type RunSpec } from "@switchyard/contracts";
import { resolveSpec, SpecError } from "@switchyard/measurement";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { needsReferenceEndpoints, withReferences } from "./reference.ts";
import { rateSteps as rateSteps_ } from "./steps.ts";

/** A flag that cannot be used as given; the CLI prints the message and exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The comparison's default payload sizes: small, and 16 KiB. */
export const DEFAULT_PAYLOADS = [64, 16 * 1024];

/** What `compare` was asked to do. */
export interface CompareOptions {
  help: boolean;
  /** Drive this running producer instead of starting one. */
  producerUrl: string | undefined;
  /** Broker URL for a local handler and producer. */
  amqpUrl: string;
  /** Folder that receives the <timestamp>/ results folder. */
  out: string | undefined;
  json: boolean;
  spec: RunSpec;
  /** Local handler processes to start. Local mode only. */
  handlers: number;
  /** How the local producer's RPC senders spread over the handlers. Local mode only. */
  rpcBalancing: "round_robin" | "off";
  /** An earlier results folder to compare this run with. */
  baseline: string | undefined;
  /** Stepped rate (`--rate A..B --steps N`): the offered rates, one run each. */
  rateSteps: number[] | undefined;
  /** The p99 bound, in ms, that a stepped rate's knee must stay under. */
  kneeP99Ms: number;
  /** `--tls` / `--mtls`: every phase runs cleartext and then in this mode, side by side. Local mode only. */
  security: "tls" | "mtls" | undefined;
  /**
   * `--reference`: each transport's phase is followed by its reference implementation's
   * (grpc_js, http_json, amqplib); locally, the services start with their reference
   * endpoints and senders on.
   */
  reference: boolean;
}

/** Each RunSpec field's flag, so a SpecError names what the user typed. */
export const FLAG_OF_FIELD: Record<string, string> = {
  transports: "--transports",
  payload_bytes: "--payloads",
  rate: "--rate",
  concurrency: "--concurrency",
  duration: "--duration",
  messages: "--messages",
  warmup: "--warmup",
  send_timeout: "--send-timeout",
};

/** The handler's default payload limit; a remote producer checks against its own setting. */
const LOCAL_MAX_PAYLOAD_BYTES = 1024 * 1024;

export const HELP = `Usage: npm run compare -- [flags]

Measures gRPC, Connect JSON and RabbitMQ side by side and prints one table.
Without --producer-url it makes sure a local RabbitMQ runs, starts the handler and the
producer on free loopback ports, runs the comparison and stops them again. Phases run
one after another, so each one's CPU is its own. Results are written to
results/<timestamp>/ as JSON, Markdown and a self-contained report.html.

Target
  --producer-url URL   Drive a running producer through its HTTP listener (e.g. after
                       kubectl port-forward svc/producer 8080); nothing is started.
  --amqp-url URL       Broker for the local handler and producer
                       (default amqp://guest:guest@127.0.0.1:5672/). Local mode only.
  --handlers N         Start N handler processes (default 1): competing AMQP consumers,
                       and RPC targets. The report shows each one's share. Local mode only.
  --rpc-balancing M    round_robin (default): the RPC senders send each message to the
                       next handler in turn; off: one connection to the first handler,
                       as a plain client behind a ClusterIP Service. Local mode only.

What to send
  --transports LIST    Comma-separated transports, measured in this order
                       (default grpc,connect,amqp; also grpc_js, http_json, amqplib).
  --reference          Follow each transport's phase with its reference
                       implementation's, against the same handleWork: grpc_js (a
                       @grpc/grpc-js client and server), http_json (fetch posting JSON
                       to a bare node:http route), amqplib (raw amqplib on a queue
                       declared alike). The report shows each pair's ratio: what the
                       library adds to what the protocol costs. A running producer
                       (--producer-url) needs its REFERENCE_* settings.
  --payloads LIST      Comma-separated payload sizes in bytes; KiB and MiB suffixes
                       allowed (default 64,16KiB). Each transport runs once per size.

Load (one of)
  --concurrency N      Closed loop: N senders, each sending again as soon as its last
                       message is acknowledged (default 32). Measures capacity.
  --rate N             Open loop: N messages/s on a fixed schedule. Latency counts from
                       each message's intended send time (no coordinated omission).
  --rate A..B          Stepped rate: one open-loop run at each of --steps rates from A to
                       B, and each transport's knee: the highest rate whose p99 stays
                       under --knee-p99 (written to steps.html and steps.json).
  --steps N            Rates in a stepped run, A and B included (default 5).
  --knee-p99 D         The knee's p99 bound, e.g. 100ms (default 100ms).

Length (one of)
  --duration D         Measured window per phase, e.g. 5s, 1500ms, 1m (default 5s).
  --messages N         Measured messages per phase.
  --warmup D           Sending before measuring, excluded from results (default 1s; 0 off).
  --send-timeout D     Deadline of each send (default: the producer's SEND_TIMEOUT_MS, 5s).
  --quick              Short phases for smoke tests: --duration 1s --warmup 250ms.

Cost of security (local mode only)
  --tls                Run every phase twice: cleartext, then over TLS on every transport
                       (gRPC over h2, Connect over HTTPS, AMQP over amqps:// on 5671),
                       each against services started for it, and print both side by side
                       with the TLS handshake time measured at the very endpoints used.
                       Makes a throwaway CA and certificates in .local/tls/ (openssl) and
                       turns on the local RabbitMQ's TLS listener
                       (scripts/ensure-rabbitmq-tls.sh).
  --mtls               As --tls, with mutual TLS: the producer and the handler show
                       client certificates to the handler and to the broker.

Output
  --out DIR            Parent folder of the results folder (default <repo>/results).
  --json               Print the report as JSON on stdout instead of the table.
  --baseline DIR       An earlier results folder (results/<timestamp>): print and plot
                       each figure's change against it, flagging changes beyond the
                       noise measured in the two runs.
  -h, --help           Show this help.

Ctrl-C stops the run and still prints and writes what was measured so far; a
second Ctrl-C quits at once.

Exit status: 0 when every phase finished with successful sends and nothing lost;
1 when a phase lost messages, could not establish whether it did, had no successful
send, or the run failed; 2 for a flag that cannot be used (one line says which); 130
when stopped with Ctrl-C.`;

/**
 * Parses and validates `compare`'s flags, including the run specification they make.
 *
 * @throws UsageError with a one-line message naming the flag.
 */
export function parseFlags(argv: readonly string[]): CompareOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv),
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: "boolean", short: "h" },
        "producer-url": { type: "string" },
        "amqp-url": { type: "string" },
        handlers: { type: "string" },
        "rpc-balancing": { type: "string" },
        transports: { type: "string" },
        payloads: { type: "string" },
        concurrency: { type: "string" },
        rate: { type: "string" },
        duration: { type: "string" },
        messages: { type: "string" },
        warmup: { type: "string" },
        "send-timeout": { type: "string" },
        quick: { type: "boolean" },
        out: { type: "string" },
        json: { type: "boolean" },
        baseline: { type: "string" },
        steps: { type: "string" },
        "knee-p99": { type: "string" },
        tls: { type: "boolean" },
        mtls: { type: "boolean" },
        reference: { type: "boolean" },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split("\n")[0]!.replace(/\.$/, "")}; see --help`);
  }
  const values = parsed.values;
  if (values.help) {
    return { help: true, producerUrl: undefined, amqpUrl: "", out: undefined, json: false, spec: create(RunSpecSchema), handlers: 1, rpcBalancing: "round_robin", baseline: undefined, rateSteps: undefined, kneeP99Ms: 100, security: undefined, reference: false };
  }

  const producerUrl = values["producer-url"];
  if (producerUrl !== undefined && !isUrl(producerUrl, ["http:", "https:"])) {
    throw new UsageError(`--producer-url must be an http:// or https:// URL (got ${JSON.stringify(producerUrl)})`);
  }
  const amqpUrl = values["amqp-url"] ?? "amqp://guest:guest@127.0.0.1:5672/";
  if (!isUrl(amqpUrl, ["amqp:", "amqps:"])) {
    throw new UsageError(`--amqp-url must be an amqp:// or amqps:// URL (got ${JSON.stringify(amqpUrl)})`);
  }
  if (producerUrl !== undefined && values["amqp-url"] !== undefined) {
    throw new UsageError("--amqp-url only applies when compare starts the services; a running producer uses its own AMQP_URL");
  }
  for (const flag of ["handlers", "rpc-balancing"] as const) {
    if (producerUrl !== undefined && values[flag] !== undefined) {
      throw new UsageError(`--${flag} only applies when compare starts the services; a running producer has its own handlers`);
    }
  }
  const handlers = values.handlers !== undefined ? parseWhole("--handlers", values.handlers) : 1;
  if (handlers < 1 || handlers > 16) throw new UsageError(`--handlers must be between 1 and 16 (got ${JSON.stringify(values.handlers)})`);
  const rpcBalancing = values["rpc-balancing"] ?? "round_robin";
  if (rpcBalancing !== "round_robin" && rpcBalancing !== "off") {
    throw new UsageError(`--rpc-balancing must be round_robin or off (got ${JSON.stringify(rpcBalancing)})`);
  }
  const security = securityMode(values, producerUrl, amqpUrl);
  const baseline = values.baseline;
  if (baseline !== undefined && !existsSync(join(baseline, "report.json"))) {
    throw new UsageError(`--baseline must be a results folder with a report.json from compare (got ${JSON.stringify(baseline)})`);
  }
  let rateSteps: number[] | undefined;
  const range = values.rate === undefined ? null : /^(.+)\.\.(.+)$/.exec(values.rate);
  if (range) {
    const [from, to] = [parseNumber("--rate", range[1]!), parseNumber("--rate", range[2]!)];
    if (!(from > 0 && to > from)) throw new UsageError(`--rate A..B needs 0 < A < B (got ${JSON.stringify(values.rate)})`);
    const steps = values.steps !== undefined ? parseWhole("--steps", values.steps) : 5;
    if (steps < 2 || steps > 20) throw new UsageError(`--steps must be between 2 and 20 (got ${JSON.stringify(values.steps)})`);
    rateSteps = rateSteps_(from, to, steps);
    // Validated below as the highest rate any step asks for.
    values.rate = String(to);
  } else if (values.steps !== undefined || values["knee-p99"] !== undefined) {
    throw new UsageError("--steps and --knee-p99 need a stepped rate, --rate A..B");
  }
  if (range && values.baseline !== undefined) throw new UsageError("--baseline compares single runs; it cannot be used with a stepped --rate A..B");
  const kneeP99Ms = values["knee-p99"] !== undefined ? parseDuration("--knee-p99", values["knee-p99"]) : 100;
  if (kneeP99Ms <= 0) throw new UsageError(`--knee-p99 must be greater than 0 (got ${JSON.stringify(values["knee-p99"])})`);
  if (values.rate !== undefined && values.concurrency !== undefined) {
    throw new UsageError("use either --rate (open loop) or --concurrency (closed loop), not both");
  }
  if (values.duration !== undefined && values.messages !== undefined) {
    throw new UsageError("use either --duration or --messages, not both");
  }

  const reference = values.reference ?? false;
  // The reference endpoints serve cleartext only: a secured run has nothing to pair them with.
  if (reference && security !== undefined) throw new UsageError(`--reference cannot be used with --${security}: the reference endpoints serve cleartext only`);
  const transports = values.transports !== undefined ? list("--transports", values.transports) : [];
  const spec = create(RunSpecSchema, {
    transports: reference ? withReferences(transports) : transports,
    payloadBytes: values.payloads !== undefined ? list("--payloads", values.payloads).map(parseSize) : [...DEFAULT_PAYLOADS],
  });
  if (values.rate !== undefined) spec.load = { case: "rate", value: parseNumber("--rate", values.rate) };
  if (values.concurrency !== undefined) spec.load = { case: "concurrency", value: parseWhole("--concurrency", values.concurrency) };
  const duration = values.duration ?? (values.quick && values.messages === undefined ? "1s" : undefined);
  if (duration !== undefined) spec.end = { case: "duration", value: durationFromMs(parseDuration("--duration", duration)) };
  if (values.messages !== undefined) spec.end = { case: "messages", value: BigInt(parseWhole("--messages", values.messages)) };
  const warmup = values.warmup ?? (values.quick ? "250ms" : undefined);
  if (warmup !== undefined) spec.warmup = durationFromMs(parseDuration("--warmup", warmup));
  if (values["send-timeout"] !== undefined) {
    spec.sendTimeout = durationFromMs(parseDuration("--send-timeout", values["send-timeout"]));
  }

  // The producer validates again; checking here gives the same answer without a round trip.
  try {
    resolveSpec(spec, { maxPayloadBytes: producerUrl === undefined ? LOCAL_MAX_PAYLOAD_BYTES : Number.MAX_SAFE_INTEGER, sendTimeoutMs: 5_000 });
  } catch (error) {
    if (error instanceof SpecError) throw new UsageError(`${FLAG_OF_FIELD[error.field] ?? error.field} ${error.problem}`);
    throw error;
  }
  return { help: false, producerUrl, amqpUrl, out: values.out, json: values.json ?? false, spec, handlers, rpcBalancing, baseline, rateSteps, kneeP99Ms, security, reference };
}

/** `--tls` / `--mtls`, checked against the flags they cannot go with. */
function securityMode(
  values: { tls?: boolean; mtls?: boolean; rate?: string; baseline?: string; transports?: string },
  producerUrl: string | undefined,
  amqpUrl: string,
): "tls" | "mtls" | undefined {
  if (values.tls && values.mtls) throw new UsageError("use either --tls or --mtls, not both");
  const security = values.mtls ? "mtls" : values.tls ? "tls" : undefined;
  if (security === undefined) return undefined;
  const flag = `--${security}`;
  if (producerUrl !== undefined) throw new UsageError(`${flag} starts the services in each mode itself; it cannot be used with --producer-url`);
  const broker = new URL(amqpUrl);
  if (broker.protocol !== "amqp:" || !["127.0.0.1", "localhost", "[::1]"].includes(broker.hostname)) {
    throw new UsageError(`${flag} needs a local broker's cleartext --amqp-url (amqp://…@127.0.0.1:5672/…); it turns on that broker's TLS listener itself (got ${JSON.stringify(amqpUrl)})`);
  }
  if (values.rate !== undefined && /\.\./.test(values.rate)) throw new UsageError(`${flag} compares single runs; it cannot be used with a stepped --rate A..B`);
  if (values.baseline !== undefined) throw new UsageError(`${flag} compares a cleartext run with its own; it cannot be used with --baseline`);
  // The reference endpoints serve cleartext only; an unknown name is left to the spec's own check.
  const cleartextOnly = (values.transports ?? "").split(",").map((name) => name.trim()).filter((name) => needsReferenceEndpoints([name]));
  if (cleartextOnly.length > 0) throw new UsageError(`${flag} measures grpc, connect and amqp; ${cleartextOnly.join(", ")} cannot run over TLS`);
  return security;
}

/** `--rate -3` → `--rate=-3`, so a negative value reaches validation instead of reading as a flag. */
function joinNegativeValues(argv: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (/^--[a-z-]+$/.test(arg) && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

function isUrl(value: string, protocols: readonly string[]): boolean {
  return URL.canParse(value) && protocols.includes(new URL(value).protocol);
}

function list(flag: string, value: string): string[] {
  const items = value.split(",").map((item) => item.trim());
  if (items.some((item) => item === "")) throw new UsageError(`${flag} must be a comma-separated list without empty items (got ${JSON.stringify(value)})`);
  return items;
}

/** `64`, `16KiB`, `1MiB` (also k/K/KB/M/MB, all binary) → bytes. */
export function parseSize(value: string): number {
  const match = /^(\d+)\s*(b|k|kb|kib|m|mb|mib)?$/i.exec(value);
  if (!match) throw new UsageError(`--payloads sizes must be whole numbers of bytes, optionally with KiB or MiB (got ${JSON.stringify(value)})`);
  const unit = (match[2] ?? "b").toLowerCase();
  const bytes = Number(match[1]) * (unit.startsWith("m") ? 1024 * 1024 : unit.startsWith("k") ? 1024 : 1);
  if (bytes > 0xffffffff) throw new UsageError(`--payloads sizes must fit in 32 bits (got ${JSON.stringify(value)})`);
  return bytes;
}

/** `5s`, `1500ms`, `1m`, `0.5s`, or a bare number of seconds → milliseconds. */
export function parseDuration(flag: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(value);
  if (!match) throw new UsageError(`${flag} must be a duration such as 5s, 1500ms or 1m (got ${JSON.stringify(value)})`);
  const amount = Number(match[1]);
  const unit = match[2] ?? "s";
  return Math.round(amount * (unit === "ms" ? 1 : unit === "m" ? 60_000 : 1000));
}

function parseNumber(flag: string, value: string): number {
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number)) throw new UsageError(`${flag} must be a number (got ${JSON.stringify(value)})`);
  return number;
}

function parseWhole(flag: string, value: string): number {
  const number = parseNumber(flag, value);
  if (!Number.isInteger(number) || number < 0 || number > 0xffffffff) {
    throw new UsageError(`${flag} must be a whole number greater than 0 (got ${JSON.stringify(value)})`);
  }
  return number;
}
