import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { PhaseState, ProducerService, RunState } from "@switchyard/contracts";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { RunManager } from "../src/runs.ts";
import { producerRoutes } from "../src/transports/connect.ts";
// The runner's in-memory stand-ins, shared with the measurement library's unit tests.
import { FakeHandler, fakeSenders } from "../../../packages/measurement/test/fakes.ts";

function client() {
  const handler = new FakeHandler();
  const runs = new RunManager({
    senders: fakeSenders(handler),
    probe: handler,
    producerId: "unit",
    context: { maxPayloadBytes: 1024, sendTimeoutMs: 1_000 },
    logger: pino({ level: "silent" }),
  });
  return { runs, client: createClient(ProducerService, createRouterTransport(producerRoutes({ runs }))) };
}

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected a rejection");
}

const short = { warmup: { seconds: 0n, nanos: 0 }, end: { case: "duration" as const, value: { seconds: 0n, nanos: 100_000_000 } } };

describe("ProducerService", () => {
  it.each([
    ["an unknown transport", { transports: ["smoke-signals"] }, "spec.transports"],
    ["a rate of 0", { load: { case: "rate", value: 0 } }, "spec.rate"],
    ["a negative rate", { load: { case: "rate", value: -1 } }, "spec.rate"],
    ["a payload over the handler's limit", { payloadBytes: [2048] }, "spec.payload_bytes"],
    ["a zero duration", { end: { case: "duration", value: { seconds: 0n, nanos: 0 } } }, "spec.duration"],
  ])("answers %s with invalid_argument naming the field", async (_, spec, field) => {
    const error = await rejection(client().client.startRun({ spec: spec as never }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage.startsWith(`${field} `)).toBe(true);
  });

  it("requires ids and reports unknown runs as not_found", async () => {
    const { client: api } = client();
    expect((await rejection(api.getRun({ id: "" }))).rawMessage).toBe("id is required");
    expect((await rejection(api.getRun({ id: "run-x" }))).code).toBe(Code.NotFound);
    expect((await rejection(api.stopRun({ id: "run-x" }))).code).toBe(Code.NotFound);
    const watch = async () => {
      for await (const _ of api.watchRun({ id: "run-x" }));
    };
    expect((await rejection(watch())).code).toBe(Code.NotFound);
  });

  it("runs one run at a time, lists runs and streams progress to the end", async () => {
    const { client: api } = client();
    const { run } = await api.startRun({ spec: { ...short, transports: ["grpc", "amqp"] } });
    expect(run!.state).toBe(RunState.RUNNING);
    expect(run!.phases.map((phase) => phase.transport)).toEqual(["grpc", "amqp"]);
    expect((await rejection(api.startRun({}))).code).toBe(Code.FailedPrecondition);
    const states: RunState[] = [];
    let last;
    for await (const update of api.watchRun({ id: run!.id })) {
      states.push(update.run!.state);
      last = update.run!;
    }
    expect(states.at(-1)).toBe(RunState.SUCCEEDED);
    expect(last!.phases.every((phase) => phase.state === PhaseState.DONE && phase.ledger!.lost === 0n)).toBe(true);
    expect((await api.listRuns({})).runs.map((listed) => listed.id)).toEqual([run!.id]);
    expect((await api.getRun({ id: run!.id })).run!.finishedAt).toBeDefined();
  });

  it("stops a run, keeping the partial phase and skipping the rest", async () => {
    const { client: api } = client();
    const { run } = await api.startRun({
      spec: { warmup: { seconds: 0n, nanos: 0 }, end: { case: "duration", value: { seconds: 60n, nanos: 0 } } },
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stopped = (await api.stopRun({ id: run!.id })).run!;
    expect(stopped.state).toBe(RunState.STOPPED);
    expect(stopped.phases.map((phase) => phase.state)).toEqual([PhaseState.STOPPED, PhaseState.SKIPPED, PhaseState.SKIPPED]);
    expect(stopped.phases[0]!.completed).toBeGreaterThan(0n);
    // Stopping again changes nothing.
    expect((await api.stopRun({ id: run!.id })).run!.state).toBe(RunState.STOPPED);
  });
});
