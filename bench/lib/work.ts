import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { WorkSchema, type Work } from "@switchyard/contracts";
import { randomUUID } from "node:crypto";

/**
 * Builds the Work messages a bench process sends: a unique id each (the handler
 * deduplicates, and a duplicate costs it less than new work), a producer id and
 * sequence as the producer sends them, and a zero payload of the measured size.
 */
export class WorkFactory {
  readonly #producerId = `bench-${randomUUID().slice(0, 8)}`;
  readonly #payload: Uint8Array;
  #sequence = 0n;

  constructor(payloadBytes: number) {
    this.#payload = new Uint8Array(payloadBytes);
  }

  /** The next Work. */
  next(): Work {
    this.#sequence += 1n;
    return create(WorkSchema, {
      id: `${this.#producerId}-${this.#sequence}`,
      producerId: this.#producerId,
      sequence: this.#sequence,
      sentAt: timestampNow(),
      payload: this.#payload,
    });
  }
}
