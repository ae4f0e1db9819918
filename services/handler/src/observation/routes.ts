import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { IncarnationSchema, ObservationService } from "@switchyard/contracts";
import { LATENCY_BUCKETS_SECONDS } from "@switchyard/platform";
import type { ReceivedLedger } from "../ledger.ts";
import type { HandlerMetrics } from "../metrics.ts";
import type { Incarnation } from "./incarnation.ts";
import { transportCounts } from "./status.ts";

/** Ranges per GetReceived answer when the request asks for none in particular. */
export const DEFAULT_PAGE_SIZE = 1_000;

/** Most ranges one GetReceived answer carries, whatever the request asks. */
export const MAX_PAGE_SIZE = 10_000;

/** What the observation routes report on. */
export interface ObservationDeps {
  handlerId: string;
  incarnation: Incarnation;
  ledger: ReceivedLedger;
  metrics: HandlerMetrics;
}

/**
 * ObservationService: this replica's identity, incarnation, counts, CPU and ledger as
 * typed data, for producers measuring a run. Read-only; it never touches Work.
 */
export function observationRoutes({ handlerId, incarnation, ledger, metrics }: ObservationDeps) {
  const incarnationMessage = create(IncarnationSchema, { id: incarnation.id, startedAt: timestampFromDate(incarnation.startedAt) });
  return (router: ConnectRouter) =>
    router.service(ObservationService, {
      async getStatus() {
        const cpu = process.cpuUsage();
        const transports = await transportCounts(metrics);
        return {
          handlerId,
          incarnation: incarnationMessage,
          cpuMicros: BigInt(cpu.user + cpu.system),
          latencyBoundsSeconds: [...LATENCY_BUCKETS_SECONDS],
          transports: transports.map((counts) => ({
            transport: counts.transport,
            handled: BigInt(counts.handled),
            duplicates: BigInt(counts.duplicates),
            latencyBucketCounts: counts.latencyBucketCounts.map(BigInt),
            latencySumSeconds: counts.latencySumSeconds,
          })),
        };
      },
      getReceived(request) {
        if (request.producerId === "") throw new ConnectError("producer_id is required", Code.InvalidArgument);
        if (request.after > BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new ConnectError(`after must be at most ${Number.MAX_SAFE_INTEGER}`, Code.InvalidArgument);
        }
        const limit = Math.min(request.pageSize === 0 ? DEFAULT_PAGE_SIZE : request.pageSize, MAX_PAGE_SIZE);
        const page = ledger.page(request.producerId, Number(request.after), limit);
        if (!page) return { tracked: false, handlerId, incarnation: incarnationMessage };
        return {
          tracked: true,
          handlerId,
          incarnation: incarnationMessage,
          handled: BigInt(page.handled),
          duplicates: BigInt(page.duplicates),
          overflow: BigInt(page.overflow),
          nextAfter: page.next === undefined ? undefined : BigInt(page.next),
          ranges: page.ranges.map(({ first, last }) => ({ first: BigInt(first), last: BigInt(last) })),
        };
      },
    });
}
