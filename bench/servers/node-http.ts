// The Connect JSON floor: a plain node:http route on the same path taking the same body
// and answering the same receipt JSON, with nothing but JSON.parse and JSON.stringify.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { serveCommands } from "../lib/child.ts";

const PATH = "/switchyard.v1.HandlerService/Handle";

const server = createServer((request, response) => {
  if (request.method !== "POST" || request.url !== PATH) {
    response.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { work?: { id?: string } };
    const answer = JSON.stringify({ receipt: { workId: body.work?.id ?? "", handlerId: "bench", handledAt: new Date().toISOString() } });
    response.writeHead(200, { "content-type": "application/json" }).end(answer);
  });
});
// Node's default keep-alive timeout (5 s) would close idle load-generator connections.
server.keepAliveTimeout = 72_000;
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  serveCommands({ httpUrl: `http://127.0.0.1:${port}` }, () => ({}), () => new Promise((resolve) => server.close(() => resolve())));
});
