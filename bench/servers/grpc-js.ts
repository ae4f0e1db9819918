// The gRPC floor: grpc-js's server with a trivial HandlerService.Handle that answers a
// receipt for the work it got. What any Node gRPC server pays at least.
import * as grpc from "@grpc/grpc-js";
import { serveCommands } from "../lib/child.ts";
import { loadHandlerService } from "../lib/grpc-js.ts";

interface HandleRequest {
  work?: { id?: string };
}

const server = new grpc.Server();
server.addService(loadHandlerService().service, {
  handle(call: grpc.ServerUnaryCall<HandleRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
    const now = Date.now();
    callback(null, {
      receipt: {
        workId: call.request.work?.id ?? "",
        handlerId: "bench",
        handledAt: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 },
        duplicate: false,
      },
    });
  },
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  serveCommands({ grpcUrl: `http://127.0.0.1:${port}` }, () => ({}), () => new Promise((resolve) => server.tryShutdown(() => resolve())));
});
