import { describe, expect, it } from "vitest";
import { openLoopInFlightBound, Phase, type PhaseOptions } from "../src/runner.ts";
import { FakeHandler, FakeSender } from "./fakes.ts";

function phase(sender: FakeSender, overrides: Partial<PhaseOptions> = {}): Phase {
  return new Phase({
    transport: sender.transport,
    payloadBytes: 32,
    producerId: `test-${Math.random().toString(16).slice(2)}`,
    load: { mode: "closed", concurrency: 4 },
    end: { kind: "duration", ms: 200 },
    warmupMs: 50,
    sendTimeoutMs: 1_000,
    sender,
    probe: sender.handler,
    signal: new AbortController().signal,
    settleIdleMs: 200,
    ...overrides,
  });
}

describe("Phase", () => {
  it("closed loop: consistent figures and a balanced ledger", async () => {
    const sender = new FakeSender("grpc", new FakeHandler());
    const run = phase(sender);
    await run.run();
    const figures = run.figures();
    expect(figures.state).toBe("done");
    expect(figures.completed).toBe(figures.sent);
    expect(figures.outcomes).toEqual({ ok: figures.completed });
    expect(figures.errors).toBe(0);
    expect(figures.throughput).toBeGreaterThan(0);
    expect(figures.latency.count).toBe(figures.completed);
    expect(figures.latency.p50Ms).toBeLessThanOrEqual(figures.latency.p99Ms);
    expect(figures.latency.p99Ms).toBeLessThanOrEqual(figures.latency.maxMs);
    expect(figures.bytesPerMessage).toBe(52);
    expect(figures.producerCpuMsPer1k).toBeGreaterThan(0);
    // The ledger covers warm-up too, so it has seen more than the measured window.
    expect(figures.ledger).toMatchObject({ tracked: true, lost: 0, duplicated: 0 });
    expect(figures.ledger.sent).toBeGreaterThan(figures.sent);
    expect(figures.ledger.received).toBe(figures.ledger.acknowledged);
    expect(figures.notes).toContain("handler observation unavailable: no handler CPU or one-way latency for this phase");
  });

  it("stops after a message count", async () => {
    const run = phase(new FakeSender("amqp", new FakeHandler()), { end: { kind: "messages", count: 123 }, warmupMs: 0 });
    await run.run();
    expect(run.figures()).toMatchObject({ sent: 123, completed: 123, state: "done" });
  });

  it("open loop times each message from its intended send, so queueing shows (no coordinated omission)", async () => {
    // The transport serves one message per 10 ms but is offered one per 5 ms: the 100th
    // message, due at 500 ms, cannot finish before 1000 ms, so it waits at least 500 ms.
    const sender = new FakeSender("connect", new FakeHandler());
    sender.serial = true;
    sender.delayMs = 10;
    const run = phase(sender, { load: { mode: "open", rate: 200 }, end: { kind: "messages", count: 100 }, warmupMs: 0 });
    await run.run();
    const figures = run.figures();
    expect(figures.completed).toBe(100);
    expect(figures.latency.maxMs).toBeGreaterThanOrEqual(450);
    expect(figures.ledger.lost).toBe(0);
  });

  it("counts sends that fail at once by outcome and still ends on time", async () => {
    const sender = new FakeSender("grpc", new FakeHandler());
    sender.outcome = "unavailable";
    const run = phase(sender, { warmupMs: 0 });
    await run.run();
    const figures = run.figures();
    expect(figures.state).toBe("done");
    expect(figures.outcomes.unavailable).toBe(figures.completed);
    expect(figures.errors).toBe(figures.completed);
    expect(figures.throughput).toBe(0);
    expect(figures.latency.count).toBe(0);
    expect(figures.notes.some((note) => note.startsWith("handler unreachable over grpc"))).toBe(true);
  });

  it("keeps partial results when stopped", async () => {
    const controller = new AbortController();
    const run = phase(new FakeSender("amqp", new FakeHandler()), {
      signal: controller.signal,
      end: { kind: "duration", ms: 60_000 },
      warmupMs: 0,
    });
    const done = run.run();
    setTimeout(() => controller.abort(), 150);
    await done;
    const figures = run.figures();
    expect(figures.state).toBe("stopped");
    expect(figures.completed).toBeGreaterThan(0);
    expect(figures.elapsedMs).toBeLessThan(30_000);
    expect(figures.notes).toContain("stopped before the end; figures cover what was sent until then");
  });

  it("reports an unreachable handler ledger as unreconciled", async () => {
    const handler = new FakeHandler();
    handler.reachable = false;
    const run = phase(new FakeSender("grpc", handler), { warmupMs: 0, end: { kind: "messages", count: 10 } });
    await run.run();
    expect(run.figures().ledger.tracked).toBe(false);
    expect(run.figures().notes).toContain("handler unreachable for ObservationService.GetReceived: ledger not reconciled");
  });

  it("fixes the measured window: a send timing out after it does not stretch it or lower msgs/s", async () => {
    const sender = new FakeSender("grpc", new FakeHandler());
    // The fifth message hangs far past the 200 ms window and then times out.
    sender.slow.add(5);
    sender.slowMs = 3_000;
    const run = phase(sender, { warmupMs: 0, sendTimeoutMs: 5_000 });
    await run.run();
    const figures = run.figures();
    expect(figures.outcomes.deadline_exceeded).toBe(1);
    expect(figures.errors).toBe(1);
    // The window is the 200 ms asked for, not until the late failure finished.
    expect(figures.elapsedMs).toBe(200);
    expect(figures.throughput).toBeGreaterThan(0);
    expect(figures.throughput * (figures.elapsedMs / 1000)).toBeLessThanOrEqual(figures.outcomes.ok!);
  });

  it("counts scheduled sends that never started apart from completed ones, and divides per message by what was sent", async () => {
    // One message per 20 ms served, 500 per second offered, at most 2 in flight: most never start.
    const sender = new FakeSender("connect", new FakeHandler());
    sender.serial = true;
    sender.delayMs = 20;
    const run = phase(sender, { load: { mode: "open", rate: 500 }, warmupMs: 0, maxInFlight: 2 });
    await run.run();
    const figures = run.figures();
    expect(figures.notSent).toBeGreaterThan(0);
    expect(figures.completed).toBe(figures.sent);
    expect(Object.keys(figures.outcomes)).toEqual(["ok"]);
    expect(figures.errors).toBe(0);
    // Every finished send carried payload + 20 bytes; sends never started carry none.
    expect(figures.bytesPerMessage).toBe(52);
    expect(figures.notes.some((note) => note.includes(`${figures.notSent} sends skipped: 2 in flight, the bound; the transport could not keep up with 500 msg/s`))).toBe(true);
  });

  it("open loop past the in-flight bound skips scheduled sends instead of piling them up, and keeps them out of schedule lag", async () => {
    // A transport that never answers: every send waits for its deadline, far past the window.
    const sender = new FakeSender("grpc", new FakeHandler());
    sender.hangUntilDeadline = true;
    const run = phase(sender, {
      load: { mode: "open", rate: 5_000 },
      warmupMs: 0,
      end: { kind: "duration", ms: 300 },
      sendTimeoutMs: 1_000,
      maxInFlight: 40,
    });
    await run.run();
    const figures = run.figures();
    expect(sender.maxInFlight).toBe(40);
    expect(figures.sent).toBe(40);
    expect(figures.notSent).toBeGreaterThan(0);
    expect(figures.outcomes).toEqual({ deadline_exceeded: 40 });
    // Only sends that started are timed for lag; skipped ones are counted, not lagged.
    expect(figures.scheduleLag!.count).toBe(figures.sent);
    expect(figures.notes).toContain(
      `${figures.notSent} sends skipped: 40 in flight, the bound; the transport could not keep up with 5000 msg/s (counted as not sent)`,
    );
  });

  it("bounds an open loop's sends in flight by rate × send timeout, at most 1,000", () => {
    expect(openLoopInFlightBound(100, 2_000)).toBe(200);
    expect(openLoopInFlightBound(0.5, 1_000)).toBe(1);
    expect(openLoopInFlightBound(5_000, 5_000)).toBe(1_000);
  });

  it("reports the open loop's schedule lag, and notes it when it passes 10% of the latency p50", async () => {
    // Each send blocks the event loop for 4 ms while the schedule asks for one per 1 ms:
    // sends start ever later than intended.
    const sender = new FakeSender("grpc", new FakeHandler());
    sender.blockMs = 4;
    const run = phase(sender, { load: { mode: "open", rate: 1000 }, warmupMs: 0, end: { kind: "messages", count: 50 } });
    await run.run();
    const figures = run.figures();
    expect(figures.scheduleLag).toBeDefined();
    expect(figures.scheduleLag!.count).toBe(50);
    expect(figures.scheduleLag!.maxMs).toBeGreaterThan(4);
    expect(figures.notes.some((note) => note.startsWith("the open loop started sends late: schedule lag p50"))).toBe(true);

    const closed = phase(new FakeSender("grpc", new FakeHandler()), { warmupMs: 0, end: { kind: "messages", count: 10 } });
    await closed.run();
    expect(closed.figures().scheduleLag).toBeUndefined();
  });

  it("tells a handler that failed to handle Work apart from one that could not be reached", async () => {
    const sender = new FakeSender("grpc", new FakeHandler());
    sender.outcome = "handling_failed";
    const run = phase(sender, { warmupMs: 0, end: { kind: "messages", count: 20 } });
    await run.run();
    const figures = run.figures();
    expect(figures.outcomes).toEqual({ handling_failed: 20 });
    expect(figures.notes).toContain("the handler was reached but failed to handle 20 sends over grpc (handling_failed)");
    expect(figures.notes.some((note) => note.includes("unreachable over grpc"))).toBe(false);
  });
});
