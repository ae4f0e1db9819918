import type { Work } from "@switchyard/contracts";
import { REFERENCE_TRANSPORTS, TRANSPORTS } from "@switchyard/platform";
import type { Outcome } from "./outcomes.ts";

/** One of the three compared transports, as switchyard's libraries carry them. */
export type LibraryTransport = (typeof TRANSPORTS)[number];

/** One of the reference implementations measured beside them (`compare --reference`). */
export type ReferenceTransport = (typeof REFERENCE_TRANSPORTS)[number];

/** A transport a run can measure: the three, and their references. */
export type CompareTransport = LibraryTransport | ReferenceTransport;

/** Every transport a run can measure, the three first. */
export const COMPARE_TRANSPORTS: readonly CompareTransport[] = [...TRANSPORTS, ...REFERENCE_TRANSPORTS];

/**
 * Each compared transport's reference: the same protocol through the plainest client and
 * server (grpc-js; node:http and fetch with protobuf JSON; raw amqplib on a queue
 * declared alike), so a pair of rows tells the protocol's cost from the library's.
 */
export const REFERENCE_OF: Readonly<Record<LibraryTransport, ReferenceTransport>> = {
  grpc: "grpc_js",
  connect: "http_json",
  amqp: "amqplib",
};

/** True for a reference transport's label. */
export function isReferenceTransport(transport: string): transport is ReferenceTransport {
  return (REFERENCE_TRANSPORTS as readonly string[]).includes(transport);
}

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
