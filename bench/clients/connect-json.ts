// The producer's Connect JSON sender (connect-node's Connect transport over HTTP/1.1),
// as the producer runs it: a keep-alive connection pool, a deadline per call.
import { ConnectSender } from "../../services/producer/src/senders/connect.ts";
import { serveClient } from "../lib/client.ts";
import { okOrThrow } from "../lib/load.ts";
import { WorkFactory } from "../lib/work.ts";

let sender: ConnectSender | undefined;

serveClient(
  (url, run) => {
    sender ??= new ConnectSender(url);
    const works = new WorkFactory(run.payloadBytes);
    const send = sender;
    return async () => okOrThrow((await send.send(works.next(), run.deadlineMs)).outcome);
  },
  async () => sender?.close(),
);
