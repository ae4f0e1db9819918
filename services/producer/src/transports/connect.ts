import type { ConnectRouter } from "@connectrpc/connect";
import { ProducerService } from "@switchyard/contracts";
import { RequestError, toConnectError } from "../errors.ts";
import type { RunManager } from "../runs.ts";

/** Runs `action`, turning any error into the ConnectError the caller sees. */
async function mapped<T>(action: () => T | Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw toConnectError(error);
  }
}

function requireId(id: string): string {
  if (id === "") throw new RequestError("id is required");
  return id;
}

/**
 * ProducerService over RPC: the same routes serve gRPC on h2c and the Connect protocol
 * and gRPC-Web on HTTP/1.1.
 */
export function producerRoutes({ runs }: { runs: RunManager }) {
  return (router: ConnectRouter) =>
    router.service(ProducerService, {
      startRun: (request) => mapped(() => ({ run: runs.start(request.spec) })),
      getRun: (request) => mapped(() => ({ run: runs.get(requireId(request.id)) })),
      listRuns: () => mapped(() => ({ runs: runs.list() })),
      stopRun: (request) => mapped(async () => ({ run: await runs.stop(requireId(request.id)) })),
      async *watchRun(request, context) {
        let updates;
        try {
          updates = runs.watch(requireId(request.id), context.signal);
          // The first snapshot also proves the run exists, before any bytes are streamed.
          const first = await updates.next();
          if (!first.done) yield { run: first.value };
        } catch (error) {
          throw toConnectError(error);
        }
        for await (const run of updates) yield { run };
      },
    });
}
