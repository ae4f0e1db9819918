// The producer's gRPC sender (connect-node's gRPC transport over h2c), as the producer
// runs it: one HTTP/2 session, a deadline per call.
import { GrpcSender } from "../../services/producer/src/senders/grpc.ts";
import { serveClient } from "../lib/client.ts";
import { okOrThrow } from "../lib/load.ts";
import { WorkFactory } from "../lib/work.ts";

let sender: GrpcSender | undefined;

serveClient(
  (url, run) => {
    sender ??= new GrpcSender(url);
    const works = new WorkFactory(run.payloadBytes);
    const send = sender;
    return async () => okOrThrow((await send.send(works.next(), run.deadlineMs)).outcome);
  },
  async () => sender?.close(),
);
