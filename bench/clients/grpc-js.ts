// The gRPC client floor: grpc-js's generic client on one channel, a deadline per call.
import * as grpc from "@grpc/grpc-js";
import { randomUUID } from "node:crypto";
import { serveClient } from "../lib/client.ts";
import { loadHandlerService } from "../lib/grpc-js.ts";

const HandlerService = loadHandlerService();
let client: grpc.Client | undefined;

serveClient(
  (url, run) => {
    // grpc-js takes host:port; the runner passes an http:// URL (h2c) to every gRPC client.
    client ??= new HandlerService(url.replace(/^http:\/\//, ""), grpc.credentials.createInsecure());
    const handle = (client as unknown as Record<string, Function>).handle!.bind(client);
    const payload = Buffer.alloc(run.payloadBytes);
    const producerId = `bench-${randomUUID().slice(0, 8)}`;
    let sequence = 0;
    return () =>
      new Promise<boolean>((resolve, reject) => {
        sequence += 1;
        const now = Date.now();
        const work = {
          id: `${producerId}-${sequence}`,
          producerId,
          sequence: String(sequence),
          sentAt: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 },
          payload,
        };
        handle({ work }, { deadline: now + run.deadlineMs }, (error: Error | null) => (error ? reject(error) : resolve(true)));
      });
  },
  async () => client?.close(),
);
