import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { HandlerService } from "@switchyard/contracts";
import amqp, { type ConfirmChannel, type ChannelModel } from "amqplib";
import { setTimeout as sleep } from "node:timers/promises";
import type { ScenarioLedger } from "./ledger.ts";
import { workBody, workFor } from "./work.ts";

/** A running load: sends at a fixed rate until stopped or its message budget is spent. */
export interface Load {
  /** Sequences sent so far. */
  readonly sent: number;
  /**
   * Resolves at the first acknowledgement of a send started at or after `since`
   * (performance.now() time), i.e. the first proof that sending works again.
   */
  acknowledgedSince(since: number, timeoutMs: number): Promise<number>;
  /** Stops sending and waits (bounded) for the sends in flight to finish. */
  stop(): Promise<void>;
}

/** What both drivers share. */
interface LoadOptions {
  ledger: ScenarioLedger;
  runId: string;
  /** Sends per second. */
  rate: number;
  /** Most sequences this load will ever send: every loop here is bounded. */
  maxMessages: number;
  /**
   * Added to every sequence, so two loads of one scenario (say AMQP and gRPC) share the
   * run id and the ledger without sharing sequences. Default 0: sequences start at 1.
   */
  sequenceOffset?: number;
}

/** The bookkeeping and pacing both drivers share. */
class Pacer {
  readonly #options: LoadOptions;
  #sequence = 0;
  #stopped = false;
  readonly #inFlight = new Set<Promise<unknown>>();
  /** (send started, acknowledged) times of acknowledged sends. */
  readonly #acks: Array<{ started: number; at: number }> = [];
  #loop: Promise<void> | undefined;

  constructor(options: LoadOptions) {
    this.#options = options;
  }

  get sent(): number {
    return this.#sequence;
  }

  start(send: (sequence: number) => Promise<boolean>): void {
    const { rate, maxMessages, ledger } = this.#options;
    const offset = this.#options.sequenceOffset ?? 0;
    const begin = performance.now();
    this.#loop = (async () => {
      while (!this.#stopped && this.#sequence < maxMessages) {
        const sequence = offset + ++this.#sequence;
        ledger.attempt(sequence);
        const started = performance.now();
        const sending = send(sequence).then(
          (acknowledged) => {
            if (!acknowledged) return;
            ledger.acknowledge(sequence);
            this.#acks.push({ started, at: performance.now() });
          },
          () => undefined,
        );
        this.#inFlight.add(sending);
        void sending.finally(() => this.#inFlight.delete(sending));
        // Pace by the schedule, not by the last send, so a stall does not lower the rate.
        const due = begin + (this.#sequence * 1000) / rate;
        await sleep(Math.max(0, due - performance.now()));
      }
    })();
  }

  async acknowledgedSince(since: number, timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const ack = this.#acks.find((entry) => entry.started >= since);
      if (ack) return ack.at;
      if (performance.now() > deadline) throw new Error(`no send started after the fault was acknowledged within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    await Promise.allSettled([...this.#inFlight]);
  }
}

/**
 * Publishes Work straight to the work exchange with publisher confirms, as the producer
 * does (binary protobuf, persistent, mandatory, `message_id` = Work.id). A publish counts
 * as acknowledged when its confirm arrives. When the connection breaks it reconnects at
 * most every 250 ms; sequences due while it is down are attempted, not acknowledged.
 */
export function startAmqpLoad(options: LoadOptions & { url: string; confirmTimeoutMs?: number }): Load {
  const pacer = new Pacer(options);
  let channel: ConfirmChannel | undefined;
  let connection: ChannelModel | undefined;
  let connecting: Promise<void> | undefined;
  let lastAttempt = 0;
  const unconfirmed = new Set<(acknowledged: boolean) => void>();
  const connect = () =>
    (connecting ??= (async () => {
      lastAttempt = performance.now();
      try {
        const opened = await amqp.connect(options.url, { timeout: 2_000 });
        opened.on("error", () => undefined);
        opened.on("close", () => {
          if (connection === opened) [connection, channel] = [undefined, undefined];
        });
        const confirm = await opened.createConfirmChannel();
        confirm.on("error", () => undefined);
        confirm.on("close", () => {
          if (channel === confirm) channel = undefined;
          // A channel that closes before a confirm leaves that publish unacknowledged.
          for (const settle of unconfirmed) settle(false);
        });
        // A message no queue takes comes back: that is no acknowledgement.
        confirm.on("return", () => undefined);
        [connection, channel] = [opened, confirm];
      } catch {
        // Down: the next due send tries again.
      } finally {
        connecting = undefined;
      }
    })());
  const timeoutMs = options.confirmTimeoutMs ?? 10_000;
  pacer.start(async (sequence) => {
    if (!channel && (connecting || performance.now() - lastAttempt >= 250)) await connect();
    const open = channel;
    if (!open) return false;
    return new Promise<boolean>((resolve) => {
      const settle = (acknowledged: boolean) => {
        clearTimeout(timer);
        unconfirmed.delete(settle);
        resolve(acknowledged);
      };
      const timer = setTimeout(() => settle(false), timeoutMs);
      unconfirmed.add(settle);
      try {
        open.publish(
          "switchyard.work",
          "work",
          workBody(options.runId, sequence),
          { persistent: true, mandatory: true, messageId: `${options.runId}-${sequence}`, contentType: "application/x-protobuf", type: "switchyard.v1.Work" },
          (error) => settle(error == null),
        );
      } catch {
        settle(false);
      }
    });
  });
  return {
    get sent() {
      return pacer.sent;
    },
    acknowledgedSince: (since, ms) => pacer.acknowledgedSince(since, ms),
    stop: async () => {
      await pacer.stop();
      await connection?.close().catch(() => undefined);
    },
  };
}

/**
 * Sends Work to the handler over gRPC (h2c) or the Connect protocol (JSON over HTTP/1.1),
 * as an at-least-once client does: a send that fails is retried with the same id, up to
 * `attempts` times. A sequence counts as acknowledged when a call returns its Receipt;
 * `failures()` counts the sequences that were not, by the code of their last attempt.
 */
export function startRpcLoad(
  options: LoadOptions & { transport: "grpc" | "connect"; baseUrl: string; attempts?: number; timeoutMs?: number },
): Load & { duplicateReceipts(): number; failures(): Record<string, number> } {
  const pacer = new Pacer(options);
  const client: Client<typeof HandlerService> = createClient(
    HandlerService,
    options.transport === "grpc"
      ? createGrpcTransport({ baseUrl: options.baseUrl })
      : createConnectTransport({ baseUrl: options.baseUrl, httpVersion: "1.1" }),
  );
  const attempts = options.attempts ?? 5;
  const timeoutMs = options.timeoutMs ?? 2_000;
  let duplicates = 0;
  const failures: Record<string, number> = {};
  pacer.start(async (sequence) => {
    const work = workFor(options.runId, sequence);
    let lastError = "";
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const { receipt } = await client.handle({ work }, { timeoutMs });
        if (receipt?.workId !== work.id) return false;
        if (receipt.duplicate) duplicates++;
        return true;
      } catch (error) {
        lastError = ConnectError.from(error).code.toString();
        if (attempt < attempts) await sleep(250 * attempt);
      }
    }
    const code = Code[Number(lastError)] ?? lastError;
    failures[code] = (failures[code] ?? 0) + 1;
    return false;
  });
  return {
    get sent() {
      return pacer.sent;
    },
    acknowledgedSince: (since, ms) => pacer.acknowledgedSince(since, ms),
    stop: () => pacer.stop(),
    duplicateReceipts: () => duplicates,
    failures: () => ({ ...failures }),
  };
}
