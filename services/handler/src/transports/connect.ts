import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { HandlerService, WorkSchema } from "@switchyard/contracts";
import type { Transport } from "@switchyard/platform";
import { toConnectError } from "../errors.ts";
import type { HandleWork } from "../work.ts";

/**
 * The label an RPC counts under, from the protocol Connect negotiated and the body
 * encoding: gRPC, Connect JSON, and the two extra labels for gRPC-Web and Connect
 * with binary protobuf.
 */
export function rpcTransport(context: HandlerContext): Transport {
  if (context.protocolName === "grpc") return "grpc";
  if (context.protocolName === "grpc-web") return "grpc_web";
  const contentType = context.requestHeader.get("content-type") ?? "";
  return contentType.includes("json") ? "connect" : "connect_proto";
}

/**
 * HandlerService over RPC. One set of routes serves both listeners: gRPC on h2c, and the
 * Connect protocol and gRPC-Web on HTTP/1.1.
 */
export function handlerRoutes({ handleWork }: { handleWork: HandleWork }) {
  return (router: ConnectRouter) =>
    router.service(HandlerService, {
      async handle(request, context) {
        const transport = rpcTransport(context);
        // An absent work is an empty one: handleWork rejects it, naming work.id, and counts it.
        const work = request.work ?? create(WorkSchema);
        try {
          return { receipt: await handleWork(work, transport, context.signal) };
        } catch (error) {
          throw toConnectError(error);
        }
      },
    });
}
