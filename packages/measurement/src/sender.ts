import type { Work } from "@switchyard/contracts";
import type { TRANSPORTS } from "@switchyard/platform";
import type { Outcome } from "./outcomes.ts";

/** One of the three compared transports. */
export type CompareTransport = (typeof TRANSPORTS)[number];

/** How one send ended. */
export interface SendResult {
  /** How the send ended; see {@link Outcome}. */
  outcome: Outcome;
  /** Encoded body bytes of this message on this transport. */
  bytes: number;
}

/**
 * Sends Work to the handler over one transport. Every transport has exactly one
 * adapter (the producer's senders); the runner knows nothing else about them.
 */
export interface Sender {
  readonly transport: CompareTransport;
  /**
   * Sends one Work and resolves when the transport has acknowledged it (an RPC
   * answered, a publish confirmed) or failed. Never rejects: every failure becomes an
   * outcome. Gives up after `timeoutMs`. Callers may start the next send before this
   * one resolves; adapters pipeline as far as their transport allows.
   */
  send(work: Work, timeoutMs: number): Promise<SendResult>;
  /** Releases connections; sends still in flight fail. */
  close(): Promise<void>;
}
