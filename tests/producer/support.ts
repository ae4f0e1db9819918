import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { PhaseState, ProducerService, RunState, type Run } from "@switchyard/contracts";
import { createServer } from "node:net";

/** A ProducerService client for a producer's HTTP listener. */
export function producerClient(httpUrl: string): Client<typeof ProducerService> {
  return createClient(ProducerService, createConnectTransport({ baseUrl: httpUrl, httpVersion: "1.1" }));
}

/** Follows a run with WatchRun until it ends; calls `onUpdate` with every snapshot. */
export async function watchToEnd(
  client: Client<typeof ProducerService>,
  id: string,
  onUpdate: (run: Run) => void | Promise<void> = () => {},
): Promise<Run> {
  let last: Run | undefined;
  for await (const update of client.watchRun({ id })) {
    last = update.run!;
    await onUpdate(last);
  }
  if (!last || last.state === RunState.RUNNING) throw new Error("the watch ended before the run");
  return last;
}

/** Resolves once `phase` of the run is measuring and has sent at least `sent` messages. */
export async function untilMeasuring(client: Client<typeof ProducerService>, id: string, phase = 0, sent = 1): Promise<Run> {
  for await (const update of client.watchRun({ id })) {
    const current = update.run!.phases[phase]!;
    if (current.state >= PhaseState.MEASURING && current.ledger!.sent >= BigInt(sent)) return update.run!;
    if (update.run!.state !== RunState.RUNNING) throw new Error("the run ended first");
  }
  throw new Error("the watch ended first");
}

/** A loopback port nothing listens on (closed again right after the OS picked it). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A Duration message for `ms` milliseconds. */
export function ms(value: number) {
  return { seconds: BigInt(Math.floor(value / 1000)), nanos: (value % 1000) * 1e6 };
}
