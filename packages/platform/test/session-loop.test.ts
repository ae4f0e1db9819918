import pino from "pino";
import { describe, expect, it } from "vitest";
import { keepSessionOpen, type BrokerSession } from "../src/session-loop.ts";
import { Readiness } from "../src/readiness.ts";

/** A session whose end the test decides. */
function session(): BrokerSession & { end(why: Error): void; closes: number } {
  let end!: (why: Error) => void;
  const closed = new Promise<unknown>((resolve) => (end = resolve));
  const result = {
    closed,
    closes: 0,
    end: (why: Error) => end(why),
    close: async () => {
      result.closes++;
    },
  };
  return result;
}

/** Waits, bounded, until `condition` holds. */
async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("keepSessionOpen", () => {
  it("is ready while a session consumes, opens another after a loss and a failed attempt, and returns on stop keeping the live one", async () => {
    const readiness = new Readiness();
    readiness.require("queue");
    const stopping = new AbortController();
    const sessions = [session(), session()];
    let attempts = 0;
    const current: Array<BrokerSession | undefined> = [];
    const loop = keepSessionOpen({
      open: async () => {
        attempts++;
        // The second attempt fails, as when the broker is still down.
        if (attempts === 2) throw new Error("connection refused");
        return sessions[attempts === 1 ? 0 : 1]!;
      },
      onSession: (live) => current.push(live),
      signal: stopping.signal,
      readiness,
      condition: "queue",
      logger: pino({ level: "silent" }),
      closeTimeoutMs: 1_000,
      role: "consumer",
      target: { queue: "q" },
    });

    await until(() => readiness.ready);
    sessions[0]!.end(new Error("connection closed"));
    await until(() => !readiness.ready);
    // After the backoff and one refused attempt, the second session consumes.
    await until(() => attempts === 3 && readiness.ready);
    expect(sessions[0]!.closes).toBe(1);
    expect(current).toEqual([sessions[0], undefined, sessions[1]]);

    stopping.abort();
    await loop;
    // The owner cancels and drains the live session itself: the loop leaves it open.
    expect(sessions[1]!.closes).toBe(0);
    expect(attempts).toBe(3);
  });

  it("never opens a session once stopped", async () => {
    const stopping = new AbortController();
    stopping.abort();
    let attempts = 0;
    await keepSessionOpen({
      open: async () => {
        attempts++;
        return session();
      },
      onSession: () => undefined,
      signal: stopping.signal,
      readiness: new Readiness(),
      condition: "queue",
      logger: pino({ level: "silent" }),
      closeTimeoutMs: 1_000,
      role: "consumer",
      target: { queue: "q" },
    });
    expect(attempts).toBe(0);
  });
});
