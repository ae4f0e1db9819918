import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckRequest,
} from "@switchyard/contracts/health";
import type { Readiness } from "./readiness.ts";

/**
 * Routes for `grpc.health.v1.Health`, answering from `readiness`: SERVING when ready,
 * NOT_SERVING otherwise. The empty service name and each of `services` (fully
 * qualified names) are known; any other name gets `not_found`, as the protocol asks.
 */
export function healthRoutes(readiness: Readiness, services: readonly string[]) {
  const known = new Set(["", ...services]);
  const status = () => (readiness.ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
  const assertKnown = (request: HealthCheckRequest) => {
    if (!known.has(request.service)) {
      throw new ConnectError(`unknown service ${request.service}`, Code.NotFound);
    }
  };
  return (router: ConnectRouter) =>
    router.service(Health, {
      check(request) {
        assertKnown(request);
        return { status: status() };
      },
      async *watch(request, context) {
        assertKnown(request);
        let wake: (() => void) | undefined;
        const unsubscribe = readiness.onChange(() => wake?.());
        const aborted = new Promise<void>((resolve) =>
          context.signal.addEventListener("abort", () => resolve(), { once: true }),
        );
        try {
          let last: ServingStatus | undefined;
          while (!context.signal.aborted) {
            const current = status();
            if (current !== last) {
              last = current;
              yield { status: current };
              // A change may have happened while the client read; look again first.
              continue;
            }
            await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
          }
        } finally {
          unsubscribe();
        }
      },
    });
}
