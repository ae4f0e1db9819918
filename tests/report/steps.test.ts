// Stepped rate: the rates asked for, and where each transport's knee is.
import { describe, expect, it } from "vitest";
import { parseFlags, UsageError } from "../../tools/compare/src/flags.ts";
import type { Row } from "../../tools/compare/src/report.ts";
import { kneeText, knees, rateSteps } from "../../tools/compare/src/steps.ts";

function row(transport: string, p99Ms: number, throughput: number, notSent = 0): Row {
  return {
    transport, payloadBytes: 64, state: "done", throughput, p50Ms: p99Ms / 4, p90Ms: p99Ms / 2, p99Ms, p999Ms: p99Ms, maxMs: p99Ms,
    errors: 0, outcomes: { ok: throughput }, notSent, scheduleLagP50Ms: 0, scheduleLagP99Ms: 0, lost: 0, duplicated: 0,
    producerCpuMsPer1k: 1, handlerCpuMsPer1k: 1, brokerCpuMsPer1k: undefined, bytesPerMessage: 1, handlerP50Ms: 1, handlerP99Ms: 1,
    sent: throughput, acknowledged: throughput, received: throughput, elapsedMs: 1000, notes: [], replicas: [], lossBasis: "handler ledger",
  };
}

describe("--rate A..B --steps N", () => {
  it("spreads the rates evenly, both ends included", () => {
    expect(rateSteps(500, 5000, 5)).toEqual([500, 1625, 2750, 3875, 5000]);
    expect(parseFlags(["--rate", "500..5000", "--steps", "5", "--knee-p99", "50ms"])).toMatchObject({ rateSteps: [500, 1625, 2750, 3875, 5000], kneeP99Ms: 50 });
    expect(parseFlags(["--rate", "100..200"])).toMatchObject({ rateSteps: [100, 125, 150, 175, 200], kneeP99Ms: 100 });
  });

  it.each([
    [["--rate", "500..100"], "--rate A..B needs 0 < A < B"],
    [["--rate", "100..500", "--steps", "1"], "--steps must be between 2 and 20"],
    [["--steps", "3"], "--steps and --knee-p99 need a stepped rate"],
    [["--rate", "100..500", "--baseline", "results"], "--baseline must be a results folder"],
    [["--rate", "100..2000000"], "--rate must be a number of messages/s greater than 0 and at most 1000000"],
  ])("refuses %j", (argv, message) => {
    expect(() => parseFlags(argv)).toThrow(UsageError);
    expect(() => parseFlags(argv)).toThrow(message);
  });
});

describe("knees", () => {
  const steps = [
    { rate: 500, rows: [row("grpc", 5, 500), row("amqp", 3, 500)] },
    { rate: 1000, rows: [row("grpc", 20, 1000), row("amqp", 4, 1000)] },
    // grpc passes the bound here; amqp keeps its p99 but delivers under 95 % of the rate.
    { rate: 1500, rows: [row("grpc", 300, 1480), row("amqp", 6, 1300)] },
    // A lucky step after a failed one does not lift the knee.
    { rate: 2000, rows: [row("grpc", 40, 2000), row("amqp", 8, 2000)] },
  ];

  it("is the highest rate below the first one whose p99, delivery or schedule failed", () => {
    const found = knees(steps, 50);
    expect(found.map((knee) => [knee.transport, knee.kneeRate, knee.aboveRange])).toEqual([["grpc", 1000, false], ["amqp", 1000, false]]);
    expect(kneeText(found, 50)[1]).toMatch(/^ {2}grpc 64 B: 1,000 msg\/s \(p99 20 ms\)/);
  });

  it("says when every rate held, and when none did", () => {
    expect(knees(steps.slice(0, 2), 50).map((knee) => [knee.kneeRate, knee.aboveRange])).toEqual([[1000, true], [1000, true]]);
    const none = knees([{ rate: 500, rows: [row("grpc", 80, 500)] }, { rate: 1000, rows: [row("grpc", 90, 1000)] }], 50);
    expect(none[0]!.kneeRate).toBeUndefined();
    expect(kneeText(none, 50)[1]).toContain("none: the lowest rate already failed");
  });
});
