import { create, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { WorkSchema, type Work } from "@switchyard/contracts";
import { randomUUID } from "node:crypto";

/** The id of the scenario's run: every Work it sends carries it as `producer_id`. */
export function newRunId(scenario: string): string {
  return `rel-${scenario}-${randomUUID().slice(0, 8)}`;
}

/** The Work for one sequence of a run: id `<run>-<sequence>`, 64 bytes of payload. */
export function workFor(runId: string, sequence: number): Work {
  return create(WorkSchema, {
    id: `${runId}-${sequence}`,
    producerId: runId,
    sequence: BigInt(sequence),
    sentAt: timestampNow(),
    payload: new Uint8Array(64).fill(sequence % 251),
  });
}

/** The binary protobuf body of {@link workFor}, as the producer publishes it. */
export function workBody(runId: string, sequence: number): Buffer {
  return Buffer.from(toBinary(WorkSchema, workFor(runId, sequence)));
}

/** The sequence in a message id of `runId`, or undefined when the id is not one of its. */
export function sequenceOf(runId: string, messageId: unknown): number | undefined {
  if (typeof messageId !== "string" || !messageId.startsWith(`${runId}-`)) return undefined;
  const sequence = Number(messageId.slice(runId.length + 1));
  return Number.isSafeInteger(sequence) && sequence > 0 ? sequence : undefined;
}
