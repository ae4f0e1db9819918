import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect, TLSSocket } from "node:tls";

/** How a client reaches one endpoint: cleartext (TCP only) or TLS with this material. */
export interface HandshakeTarget {
  host: string;
  port: number;
  /** Undefined: cleartext, the figure is the TCP connect alone. */
  tls?: {
    ca: Buffer;
    /** A client certificate and key, shown under mutual TLS. */
    cert?: Buffer;
    key?: Buffer;
    /** ALPN offered, as the real client offers it: `h2` for gRPC, `http/1.1` for Connect, none for AMQP. */
    alpn?: string[];
  };
}

/** Handshake times of fresh connections to one endpoint. */
export interface HandshakeFigures {
  /** Median time from connect() to a usable connection (TCP connected, or TLS handshake done), ms. */
  medianMs: number;
  p90Ms: number;
  samples: number;
  /** TLS protocol negotiated ("TLSv1.3"), or undefined for cleartext. */
  protocol: string | undefined;
  /** ALPN protocol the server chose, when one was offered. */
  alpn: string | undefined;
}

/**
 * Opens `samples` fresh connections to `target` one after another and times each from
 * connect() to ready: the TCP connect, plus the full TLS handshake with the server
 * verified against `tls.ca` (and the client certificate shown, under mutual TLS). No
 * session resumption: every sample is a full handshake, as a new pooled connection is.
 *
 * @throws when a connection fails (e.g. the server does not speak TLS there).
 */
export async function measureHandshakes(target: HandshakeTarget, samples = 50, timeoutMs = 5_000): Promise<HandshakeFigures> {
  const times: number[] = [];
  let protocol: string | undefined;
  let alpn: string | undefined;
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      let socket: Socket;
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no handshake with ${target.host}:${target.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      const ready = () => {
        times.push(performance.now() - started);
        clearTimeout(timer);
        if (socket instanceof TLSSocket) {
          protocol = socket.getProtocol() ?? undefined;
          alpn = socket.alpnProtocol || undefined;
        }
        // A polite close, off the clock: destroying at once can cut TLS 1.3's last
        // flight, and the server would log a failed handshake for every sample.
        socket.end();
        const closeTimer = setTimeout(() => socket.destroy(), timeoutMs);
        socket.once("close", () => {
          clearTimeout(closeTimer);
          resolve();
        });
        socket.resume();
      };
      const tls = target.tls;
      socket = tls
        ? tlsConnect({ host: target.host, port: target.port, ca: tls.ca, cert: tls.cert, key: tls.key, ALPNProtocols: tls.alpn }, ready)
        : tcpConnect(target.port, target.host, ready);
      socket.once("error", (error) => {
        clearTimeout(timer);
        socket.destroy();
        if (times.length > i) return resolve();
        reject(new Error(`${tls ? "TLS handshake" : "connect"} with ${target.host}:${target.port} failed: ${error.message}`));
      });
    });
  }
  const sorted = [...times].sort((a, b) => a - b);
  const at = (quantile: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * quantile))]!;
  return { medianMs: at(0.5), p90Ms: at(0.9), samples, protocol, alpn };
}
