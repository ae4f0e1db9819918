import { describe, expect, it } from "vitest";
import { HandlingFailedError, InvalidWorkError } from "../src/errors.ts";
import { Deduplicator } from "../src/dedupe.ts";
import { handledCount, work, workHandler } from "./support.ts";

describe("handleWork", () => {
  it("returns a receipt for valid work and counts it ok", async () => {
    const { handleWork, registry } = workHandler();
    const receipt = await handleWork(work({ id: "a1" }), "grpc");
    expect(receipt).toMatchObject({ workId: "a1", handlerId: "test-handler", duplicate: false });
    expect(receipt.handledAt).toBeDefined();
    expect(await handledCount(registry, "grpc", "ok")).toBe(1);
  });

  it("rejects work without an id, naming work.id, and counts it invalid", async () => {
    const { handleWork, registry } = workHandler();
    const attempt = handleWork(work({ id: "" }), "connect");
    await expect(attempt).rejects.toThrow(InvalidWorkError);
    await expect(attempt).rejects.toThrow(/work\.id is required/);
    expect(await handledCount(registry, "connect", "invalid")).toBe(1);
  });

  it("rejects a payload over the limit, naming work.payload", async () => {
    const { handleWork } = workHandler({ maxPayloadBytes: 16 });
    await expect(handleWork(work({ payload: new Uint8Array(17) }), "amqp")).rejects.toThrow(
      /work\.payload is 17 bytes, over the limit of 16/,
    );
    await expect(handleWork(work({ payload: new Uint8Array(16) }), "amqp")).resolves.toMatchObject({ duplicate: false });
  });

  it("handles an id once and reports later copies as duplicates", async () => {
    const { handleWork, registry, ledger } = workHandler();
    await handleWork(work({ id: "same", sequence: 7n }), "amqp");
    const second = await handleWork(work({ id: "same", sequence: 7n }), "grpc");
    expect(second.duplicate).toBe(true);
    expect(await handledCount(registry, "amqp", "ok")).toBe(1);
    expect(await handledCount(registry, "grpc", "duplicate")).toBe(1);
    expect(ledger.get("run-1")).toEqual({ ranges: [{ first: 7, last: 7 }], handled: 1, duplicates: 1 });
  });

  it("releases the id when handling fails, so a redelivery is handled, not a duplicate", async () => {
    const failing = workHandler({ cost: { failureRatio: 1 } });
    await expect(failing.handleWork(work({ id: "f1" }), "amqp")).rejects.toThrow(HandlingFailedError);
    expect(await handledCount(failing.registry, "amqp", "failed")).toBe(1);
    expect(failing.ledger.get("run-1")).toBeUndefined();
  });

  it("stops at the caller's deadline and does not count the work as handled", async () => {
    const { handleWork, registry } = workHandler({ cost: { delayMs: 5_000 } });
    const attempt = handleWork(work({ id: "slow" }), "grpc", AbortSignal.timeout(20));
    await expect(attempt).rejects.toThrow();
    expect(await handledCount(registry, "grpc", "ok")).toBe(0);
    expect(await handledCount(registry, "grpc", "failed")).toBe(1);
    // The id was released: the same work, given time, is handled normally.
    const retry = workHandler({ cost: { delayMs: 1 } });
    await expect(retry.handleWork(work({ id: "slow" }), "grpc")).resolves.toMatchObject({ duplicate: false });
  });

  it("records every handled sequence of a run for the producer's ledger", async () => {
    const { handleWork, ledger } = workHandler();
    for (const sequence of [1n, 2n, 4n]) await handleWork(work({ id: `s${sequence}`, sequence }), "connect");
    expect(ledger.get("run-1")).toEqual({
      ranges: [
        { first: 1, last: 2 },
        { first: 4, last: 4 },
      ],
      handled: 3,
      duplicates: 0,
    });
  });

  it("does not observe negative one-way latency when clocks are skewed", async () => {
    const { handleWork, registry } = workHandler();
    const future = new Date(Date.now() + 60_000);
    await handleWork(work({ sentAt: { seconds: BigInt(Math.floor(future.getTime() / 1000)), nanos: 0 } as never }), "amqp");
    const histogram = await registry.getSingleMetric("switchyard_handler_delivery_latency_seconds")!.get();
    const sum = histogram.values.find((v) => v.metricName?.endsWith("_sum") && v.labels.transport === "amqp");
    expect(sum?.value).toBe(0);
  });

  describe("a copy of work that is still being handled", () => {
    it("waits for the original, and gets a duplicate Receipt only once the original succeeded", async () => {
      const { handleWork, registry, ledger } = workHandler({ cost: { delayMs: 100 } });
      const settled: string[] = [];
      const original = handleWork(work({ id: "twin", sequence: 5n }), "amqp").then((r) => (settled.push("original"), r));
      const copy = handleWork(work({ id: "twin", sequence: 5n }), "amqp").then((r) => (settled.push("copy"), r));
      expect((await copy).duplicate).toBe(true);
      expect((await original).duplicate).toBe(false);
      expect(settled).toEqual(["original", "copy"]);
      expect(await handledCount(registry, "amqp", "ok")).toBe(1);
      expect(await handledCount(registry, "amqp", "duplicate")).toBe(1);
      expect(ledger.get("run-1")).toEqual({ ranges: [{ first: 5, last: 5 }], handled: 1, duplicates: 1 });
    });

    it("is handled itself when the original fails, and nothing enters the ledger before that", async () => {
      const { handleWork, registry, ledger } = workHandler({ cost: { delayMs: 200 } });
      // The original gives up at its caller's deadline, long before the work is done.
      const original = handleWork(work({ id: "race", sequence: 3n }), "grpc", AbortSignal.timeout(20));
      const copy = handleWork(work({ id: "race", sequence: 3n }), "grpc");
      await expect(original).rejects.toThrow();
      expect(ledger.get("run-1")).toBeUndefined();
      await expect(copy).resolves.toMatchObject({ workId: "race", duplicate: false });
      expect(await handledCount(registry, "grpc", "failed")).toBe(1);
      expect(await handledCount(registry, "grpc", "ok")).toBe(1);
      expect(await handledCount(registry, "grpc", "duplicate")).toBe(0);
      expect(ledger.get("run-1")).toEqual({ ranges: [{ first: 3, last: 3 }], handled: 1, duplicates: 0 });
    });

    it("waits no longer than its own deadline, and the original is unaffected", async () => {
      const { handleWork, registry } = workHandler({ cost: { delayMs: 300 } });
      const original = handleWork(work({ id: "patient" }), "connect");
      await expect(handleWork(work({ id: "patient" }), "connect", AbortSignal.timeout(20))).rejects.toThrow();
      await expect(original).resolves.toMatchObject({ duplicate: false });
      await expect(handleWork(work({ id: "patient" }), "connect")).resolves.toMatchObject({ duplicate: true });
      expect(await handledCount(registry, "connect", "failed")).toBe(1);
    });
  });
});

describe("Deduplicator", () => {
  it("remembers at most its capacity of handled ids and nothing of attempts that settled", async () => {
    const dedupe = new Deduplicator(2);
    for (const id of ["a", "b", "c"]) {
      const attempt = Promise.resolve();
      dedupe.track(id, attempt);
      await dedupe.running(id);
    }
    expect(dedupe.runningCount).toBe(0);
    expect(dedupe.wasHandled("a")).toBe(false);
    expect(dedupe.wasHandled("c")).toBe(true);
    const failing = Promise.reject(new Error("boom"));
    dedupe.track("d", failing);
    await dedupe.running("d");
    expect(dedupe.wasHandled("d")).toBe(false);
    expect(dedupe.runningCount).toBe(0);
  });
});
