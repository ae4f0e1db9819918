import type { Client } from "@connectrpc/connect";
import type { HandlerService, Work } from "@switchyard/contracts";
import type { TRANSPORTS } from "@switchyard/platform";
import type { ProducerMetrics } from "../metrics.ts";
import { rpcOutcome, type Outcome } from "../outcomes.ts";

/** One of the three compared transports. */
export type CompareTransport = (typeof TRANSPORTS)[number];

/** How one send ended. */
export interface SendResult {
  /** How the send ended; see {@link Outcome}. */
  outcome: Outcome;
  /** Encoded body bytes of this message on this transport. */
  bytes: number;
}

/**
 * Sends Work to the handler over one transport. Every transport has exactly one
 * adapter; the runner knows nothing else about them.
 */
export interface Sender {
  readonly transport: CompareTransport;
  /**
   * Sends one Work and resolves when the transport has acknowledged it (an RPC
   * answered, a publish confirmed) or failed. Never rejects: every failure becomes an
   * outcome. Gives up after `timeoutMs`. Callers may start the next send before this
   * one resolves; adapters pipeline as far as their transport allows.
   */
  send(work: Work, timeoutMs: number): Promise<SendResult>;
  /** Releases connections; sends still in flight fail. */
  close(): Promise<void>;
}

/**
 * TLS options of the RPC senders for https:// handler URLs: `ca` verifies the handler
 * (absent: the system's CAs), `cert` + `key` are the producer's client certificate,
 * `servername` the name the handler's certificate must carry when the URL holds a
 * resolved address instead.
 */
export interface ClientTlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
}

/**
 * One HandlerService.Handle call as a send: resolves `ok` or the RPC's outcome code,
 * never rejects. Both RPC senders send this way; they differ only in their transport.
 */
export async function sendRpc(
  client: Client<typeof HandlerService>,
  work: Work,
  timeoutMs: number,
  bytes: number,
): Promise<SendResult> {
  try {
    await client.handle({ work }, { timeoutMs });
    return { outcome: "ok", bytes };
  } catch (error) {
    return { outcome: rpcOutcome(error), bytes };
  }
}

/**
 * Encoded sizes of RPC messages, measured on a sample. The RPC transports encode
 * inside Connect, so an exact size would mean encoding every message twice and
 * inflating the producer CPU being measured. Within a run only the sequence, id and
 * timestamp vary, by a few bytes, so every 64th message keeps the figure exact to
 * well under a byte per message.
 */
export class SizeSampler {
  readonly #measure: (work: Work) => number;
  readonly #every: number;
  #count = 0;
  #lastPayload = -1;
  #last = 0;

  constructor(measure: (work: Work) => number, every = 64) {
    this.#measure = measure;
    this.#every = every;
  }

  /** The encoded size of `work`, measured or taken from the last sample of its payload size. */
  size(work: Work): number {
    const payload = work.payload.byteLength;
    if (payload !== this.#lastPayload || this.#count++ % this.#every === 0) {
      this.#last = this.#measure(work);
      this.#lastPayload = payload;
    }
    return this.#last;
  }
}

/**
 * Wraps a sender so every send updates the Contract metrics: in-flight, duration,
 * outcome and bytes. The runner and the background load both send through this.
 */
export function instrument(sender: Sender, metrics: ProducerMetrics): Sender {
  const { transport } = sender;
  return {
    transport,
    async send(work, timeoutMs) {
      metrics.inFlight.inc({ transport });
      const started = performance.now();
      try {
        const result = await sender.send(work, timeoutMs);
        metrics.sendDuration.observe({ transport }, (performance.now() - started) / 1000);
        metrics.messages.inc({ transport, outcome: result.outcome });
        metrics.messageBytes.inc({ transport }, result.bytes);
        return result;
      } finally {
        metrics.inFlight.dec({ transport });
      }
    },
    close: () => sender.close(),
  };
}
