import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { HandlerService, ReceiptSchema } from "@switchyard/contracts";

/**
 * Connect routes with a trivial HandlerService.Handle: a receipt for the work it got,
 * nothing else. What Connect itself costs, without switchyard's layers.
 */
export function trivialRoutes(router: ConnectRouter): void {
  router.service(HandlerService, {
    handle(request) {
      return { receipt: create(ReceiptSchema, { workId: request.work?.id ?? "", handlerId: "bench", handledAt: timestampNow() }) };
    },
  });
}

/** The limits switchyard's handler sets, so bare Connect does the same checks. */
export const BENCH_LIMITS = { readMaxBytes: 2 * 1024 * 1024, maxTimeoutMs: 30_000 } as const;
