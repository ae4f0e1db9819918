import type { Client } from "@connectrpc/connect";
import type { HandlerService, Work } from "@switchyard/contracts";
import { rpcOutcome, type Sender, type SendResult } from "@switchyard/measurement";
import type { ProducerMetrics } from "../metrics.ts";

/**
 * TLS options of the RPC senders for https:// handler URLs: `ca` verifies the handler
 * (absent: the system's CAs), `cert` + `key` are the producer's client certificate,
 * `servername` the name the handler's certificate must carry when the URL holds a
 * resolved address instead; or `reloading` material from HANDLER_TLS_DIR.
 */
export type { ClientTlsOptions } from "@switchyard/platform";

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
