import type { ServerOptions as Http2ServerOptions } from "node:http2";

// The limits every listener puts on its clients, with the reasons; servers.ts applies them.

/**
 * Node's HTTP/2 server options for the h2c listener. Node's defaults let a client keep
 * any number of streams open and reset 1 000 before nghttp2 objects; each stream costs
 * the server a request before the reset arrives (HTTP/2 "rapid reset", CVE-2023-44487).
 */
export const H2C_SERVER_OPTIONS = {
  // Streams a client may have open at once (Node's default is unlimited; Go's is 250).
  // gRPC clients queue calls beyond it on their side. A client cancelling calls faster
  // than the server reads the cancels can exceed it, and gets streams refused.
  settings: { maxConcurrentStreams: 250 },
  // Streams opened beyond that limit, and malformed frames, before the session is closed.
  maxSessionRejectedStreams: 100,
  maxSessionInvalidFrames: 100,
  // nghttp2's RST_STREAM token bucket, for resets of every kind: past it the server sends
  // GOAWAY and the client moves to a new connection. Room for a client whose open calls
  // all hit their deadline at once, several times over (Node's default: 1 000, 33/s).
  // GOAWAY takes effect only once the read in progress is processed, up to a 64 KiB
  // read's worth of streams (hundreds to a few thousand): RESET_BUDGET (reset-guard.ts)
  // covers that.
  streamResetBurst: 500,
  streamResetRate: 100,
  // Node's default (10 MB) of buffered frames, header tables and stream state per session.
  maxSessionMemory: 10,
} as const satisfies Http2ServerOptions;

/**
 * Timeouts of the HTTP/1.1 listener, so slow or idle connections end instead of piling
 * up (Fastify's defaults turn the request timeout and the socket idle timeout off).
 */
export const HTTP1_TIMEOUTS = {
  // Complete request headers within 10 s of the connection or the previous request
  // (Node's default 60 s): a slowloris client is cut off early.
  headersTimeoutMs: 10_000,
  // A whole request body within 30 s: at most READ_MAX_BYTES over a slow link.
  requestTimeoutMs: 30_000,
  // How often Node sweeps connections for those two timeouts (its default is 30 s, which
  // would let a slow connection live up to 40 s).
  checkEveryMs: 2_000,
  // Idle keep-alive connections close after 72 s, longer than common load balancers'
  // 60 s idle timeout so the balancer, not the server, closes them (Fastify's default).
  keepAliveTimeoutMs: 72_000,
} as const;

/** Node's options for the HTTP/1.1 servers (plain or TLS); see {@link HTTP1_TIMEOUTS}. */
export const HTTP1_NODE_OPTIONS = { headersTimeout: HTTP1_TIMEOUTS.headersTimeoutMs, connectionsCheckingInterval: HTTP1_TIMEOUTS.checkEveryMs };
