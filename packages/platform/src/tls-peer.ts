import type { Http2ServerRequest } from "node:http2";
import type { TLSSocket } from "node:tls";
import { Code, ConnectError, createContextKey, createContextValues, type ContextValues, type Interceptor } from "@connectrpc/connect";
import type { FastifyRequest } from "fastify";
import { Health } from "@switchyard/contracts/health";
import type { PeerVerdict, ServerTls } from "./tls.ts";

/** The caller's verdict, put in each RPC's context by {@link peerAuthentication}. */
const PEER_VERDICT = createContextKey<PeerVerdict>({ ok: true, subject: "" }, { description: "mutual TLS verdict on the caller" });

/**
 * Services any caller may use without a client certificate: the gRPC health service,
 * which says only SERVING or not and which probes call.
 */
const OPEN_SERVICES: ReadonlySet<string> = new Set([Health.typeName]);

/**
 * The one place RPC callers are authenticated, for both listeners: `contextValues`
 * puts the verdict on the caller's connection into the RPC's context, and the
 * interceptor answers a caller without a valid certificate `unauthenticated` and one
 * whose subject is not allowed `permission_denied`, in whichever protocol it spoke.
 * Plain HTTP routes (`/healthz`, `/readyz`, `/metrics`) are not RPCs and stay open.
 */
export function peerAuthentication(tls: ServerTls): {
  contextValues: (request: FastifyRequest) => ContextValues;
  interceptor: Interceptor;
} {
  return {
    contextValues: (request) => {
      const socket = peerSocket(request);
      const values = createContextValues();
      return socket ? values.set(PEER_VERDICT, tls.judge(socket)) : values.set(PEER_VERDICT, NO_TLS);
    },
    interceptor: (next) => async (request) => {
      if (OPEN_SERVICES.has(request.service.typeName)) return next(request);
      const verdict = request.contextValues.get(PEER_VERDICT);
      if (!verdict.ok) throw new ConnectError(verdict.message, verdict.code === "unauthenticated" ? Code.Unauthenticated : Code.PermissionDenied);
      return next(request);
    },
  };
}

const NO_TLS: PeerVerdict = { ok: false, code: "unauthenticated", message: "the connection is not TLS" };

/** The TLS socket under a request: the connection (HTTP/1.1) or the session's (HTTP/2). */
function peerSocket(request: FastifyRequest): TLSSocket | undefined {
  const raw = request.raw as unknown as Partial<Http2ServerRequest> & { socket?: TLSSocket };
  const socket = (raw.stream?.session?.socket ?? raw.socket) as TLSSocket | undefined;
  return socket && typeof socket.getPeerCertificate === "function" ? socket : undefined;
}
