// In-memory stand-ins for the runner's unit tests. They exercise the runner's own logic
// (scheduling, counting, reconciling); transports are tested for real under tests/producer.
import type { Work } from "@switchyard/contracts";
import type { FleetSnapshot, HandlerObserver } from "../src/observer/fleet.ts";
import type { Received } from "../src/ledger.ts";
import type { Outcome } from "../src/outcomes.ts";
import type { CompareTransport, Sender, SendResult } from "../src/sender.ts";

/** A handler that remembers which sequences of each producer id it received. */
export class FakeHandler implements HandlerObserver {
  readonly seen = new Map<string, Map<number, number>>();
  reachable = true;

  receive(work: Work): void {
    let run = this.seen.get(work.producerId);
    if (!run) this.seen.set(work.producerId, (run = new Map()));
    const sequence = Number(work.sequence);
    run.set(sequence, (run.get(sequence) ?? 0) + 1);
  }

  async snapshot(): Promise<FleetSnapshot | undefined> {
    return undefined;
  }

  async received(producerId: string): Promise<Received | undefined> {
    if (!this.reachable) return undefined;
    const run = this.seen.get(producerId);
    if (!run) return { tracked: false, ranges: [], handled: 0, duplicates: 0, overflow: 0, unreachable: 0, replicas: [], incarnations: [] };
    const sequences = [...run.keys()].sort((a, b) => a - b);
    const ranges: Array<{ first: number; last: number }> = [];
    for (const sequence of sequences) {
      const last = ranges.at(-1);
      if (last && last.last + 1 === sequence) last.last = sequence;
      else ranges.push({ first: sequence, last: sequence });
    }
    const duplicates = [...run.values()].reduce((sum, copies) => sum + copies - 1, 0);
    return {
      tracked: true,
      ranges,
      handled: sequences.length,
      duplicates,
      overflow: 0,
      unreachable: 0,
      replicas: [{ handlerId: "fake", incarnationId: "1", startedAt: undefined, handled: sequences.length }],
      incarnations: [{ handlerId: "fake", incarnationId: "1", startedAt: undefined }],
    };
  }
}

/** A sender that delivers to a {@link FakeHandler} after `delayMs`, or fails with `outcome`. */
export class FakeSender implements Sender {
  readonly transport: CompareTransport;
  readonly handler: FakeHandler;
  delayMs = 1;
  /** When set, every send fails at once with this outcome. */
  outcome: Outcome | undefined;
  /** When true, sends are served one at a time (a transport that queues). */
  serial = false;
  /** Sequences that take `slowMs` and then fail with `deadline_exceeded`, as a send timing out. */
  readonly slow = new Set<number>();
  slowMs = 0;
  /** Milliseconds each send() blocks the event loop before returning, as a CPU-starved sender. */
  blockMs = 0;
  /** When true, no send is answered: each fails with `deadline_exceeded` at its deadline. */
  hangUntilDeadline = false;
  /** Sends started and not yet answered. */
  inFlight = 0;
  /** The most sends ever in flight at once. */
  maxInFlight = 0;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(transport: CompareTransport, handler: FakeHandler) {
    this.transport = transport;
    this.handler = handler;
  }

  send(work: Work, timeoutMs: number): Promise<SendResult> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return this.#send(work, timeoutMs).finally(() => this.inFlight--);
  }

  #send(work: Work, timeoutMs: number): Promise<SendResult> {
    if (this.hangUntilDeadline) {
      return new Promise((resolve) => setTimeout(() => resolve({ outcome: "deadline_exceeded", bytes: 0 }), timeoutMs));
    }
    if (this.blockMs > 0) {
      const until = performance.now() + this.blockMs;
      while (performance.now() < until) {
        // Busy on purpose: the event loop cannot run the open loop's timers meanwhile.
      }
    }
    if (this.outcome) return Promise.resolve({ outcome: this.outcome, bytes: 10 });
    if (this.slow.has(Number(work.sequence))) {
      return new Promise((resolve) => setTimeout(() => resolve({ outcome: "deadline_exceeded", bytes: work.payload.byteLength + 20 }), this.slowMs));
    }
    const deliver = async (): Promise<SendResult> => {
      await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      this.handler.receive(work);
      return { outcome: "ok", bytes: work.payload.byteLength + 20 };
    };
    if (!this.serial) return deliver();
    const result = this.#queue.then(deliver);
    this.#queue = result;
    return result;
  }

  async close(): Promise<void> {}
}

/** One fake sender per transport, all delivering to `handler`. */
export function fakeSenders(handler: FakeHandler): Record<CompareTransport, FakeSender> {
  return {
    grpc: new FakeSender("grpc", handler),
    connect: new FakeSender("connect", handler),
    amqp: new FakeSender("amqp", handler),
  };
}
