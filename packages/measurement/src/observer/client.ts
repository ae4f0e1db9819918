import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ObservationService } from "@switchyard/contracts";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Agent } from "node:http";
import { httpsAgent, type ClientTlsOptions } from "@switchyard/platform";
import type { SequenceRange } from "../ledger.ts";

/** Identifies one run of one handler replica: its handler id and incarnation id. */
export interface ReplicaKey {
  handlerId: string;
  incarnationId: string;
  startedAt: Date | undefined;
}

/** One replica's cumulative figures at one moment; mirrors GetStatusResponse. */
export interface ReplicaStatus extends ReplicaKey {
  cpuMicros: number;
  latencyBoundsSeconds: number[];
  transports: Map<string, { handled: number; duplicates: number; latencyBucketCounts: number[]; latencySumSeconds: number }>;
}

/** What one incarnation reported of one producer run, every page put together. */
export interface ReplicaReceived extends ReplicaKey {
  tracked: boolean;
  ranges: SequenceRange[];
  handled: number;
  duplicates: number;
  overflow: number;
}

/** Most pages one GetReceived reading follows; 10,000 ranges each. */
const MAX_PAGES = 64;

/**
 * ObservationService of one handler replica, over its own connections (never the
 * transports under test), so these calls are never counted as sent messages.
 */
export class ReplicaClient {
  readonly url: string;
  readonly #client: Client<typeof ObservationService>;
  readonly #agent: Agent;
  readonly #timeoutMs: number;

  /**
   * `tls` applies to an https:// `url` (a handler with TLS_DIR): the producer's
   * HANDLER_TLS_DIR material, as the senders use it; absent, the system's CAs and
   * NODE_EXTRA_CA_CERTS verify the handler.
   */
  constructor(url: string, timeoutMs = 3_000, tls?: ClientTlsOptions) {
    this.url = url;
    this.#timeoutMs = timeoutMs;
    const pool = { keepAlive: true, maxSockets: 2 };
    this.#agent = new URL(url).protocol === "https:" ? httpsAgent(tls, pool) : new Agent(pool);
    this.#client = createClient(
      ObservationService,
      createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: true, nodeOptions: { agent: this.#agent } }),
    );
  }

  /** The replica's status, or undefined when it cannot be asked. */
  async status(): Promise<ReplicaStatus | undefined> {
    try {
      const answer = await this.#client.getStatus({}, { timeoutMs: this.#timeoutMs });
      return {
        handlerId: answer.handlerId,
        incarnationId: answer.incarnation?.id ?? "",
        startedAt: answer.incarnation?.startedAt ? timestampDate(answer.incarnation.startedAt) : undefined,
        cpuMicros: Number(answer.cpuMicros),
        latencyBoundsSeconds: [...answer.latencyBoundsSeconds],
        transports: new Map(
          answer.transports.map((entry) => [
            entry.transport,
            {
              handled: Number(entry.handled),
              duplicates: Number(entry.duplicates),
              latencyBucketCounts: entry.latencyBucketCounts.map(Number),
              latencySumSeconds: entry.latencySumSeconds,
            },
          ]),
        ),
      };
    } catch {
      return undefined;
    }
  }

  /**
   * Every page of what the replica handled of `producerId`, or undefined when it cannot
   * be asked (or answered for two incarnations while paging: it restarted meanwhile).
   */
  async received(producerId: string): Promise<ReplicaReceived | undefined> {
    try {
      let after = 0n;
      let result: ReplicaReceived | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const answer = await this.#client.getReceived({ producerId, after, pageSize: 10_000 }, { timeoutMs: this.#timeoutMs });
        const incarnationId = answer.incarnation?.id ?? "";
        if (result && result.incarnationId !== incarnationId) return undefined;
        result ??= {
          handlerId: answer.handlerId,
          incarnationId,
          startedAt: answer.incarnation?.startedAt ? timestampDate(answer.incarnation.startedAt) : undefined,
          tracked: answer.tracked,
          ranges: [],
          handled: 0,
          duplicates: 0,
          overflow: 0,
        };
        result.handled = Number(answer.handled);
        result.duplicates = Number(answer.duplicates);
        result.overflow = Number(answer.overflow);
        for (const { first, last } of answer.ranges) result.ranges.push({ first: Number(first), last: Number(last) });
        if (answer.nextAfter === undefined) return result;
        after = answer.nextAfter;
      }
      // More pages than we follow: what was not read counts as not itemised.
      if (result) result.overflow = Math.max(result.overflow, result.handled - countOf(result.ranges));
      return result;
    } catch {
      return undefined;
    }
  }

  /** Closes the client's connections. */
  close(): void {
    this.#agent.destroy();
  }
}

/** Members in `ranges`. */
export function countOf(ranges: readonly SequenceRange[]): number {
  return ranges.reduce((sum, { first, last }) => sum + last - first + 1, 0);
}
