// The Connect JSON client floor: Node's fetch (undici) posting the JSON body by hand,
// with the Connect protocol's timeout header and an abort at the deadline.
import { randomUUID } from "node:crypto";
import { serveClient } from "../lib/client.ts";

const PATH = "/switchyard.v1.HandlerService/Handle";

serveClient((url, run) => {
  const payload = Buffer.alloc(run.payloadBytes).toString("base64");
  const producerId = `bench-${randomUUID().slice(0, 8)}`;
  const headers = { "content-type": "application/json", "connect-protocol-version": "1", "connect-timeout-ms": String(run.deadlineMs) };
  let sequence = 0;
  return async () => {
    sequence += 1;
    const body = JSON.stringify({ work: { id: `${producerId}-${sequence}`, producerId, sequence: String(sequence), sentAt: new Date().toISOString(), payload } });
    const response = await fetch(url + PATH, { method: "POST", headers, body, signal: AbortSignal.timeout(run.deadlineMs) });
    await response.arrayBuffer();
    return response.ok;
  };
});
