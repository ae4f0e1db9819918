import type { ReceivedLedger } from "./ledger.ts";
import type { HandleWork } from "./work.ts";

/**
 * The ledger layer (measurement plane): records each Work that got a Receipt — handled,
 * or a duplicate of work that was handled — under its producer run and sequence, so the
 * producer can count lost and duplicated work. Failed and invalid work is never recorded:
 * only what was handled counts as received.
 */
export function recorded(ledger: ReceivedLedger, next: HandleWork): HandleWork {
  // One reaction on next's promise rather than an async function awaiting it.
  return function handleRecorded(work, transport, signal) {
    return next(work, transport, signal).then((receipt) => {
      if (work.producerId !== "" && work.sequence > 0n) ledger.record(work.producerId, Number(work.sequence));
      return receipt;
    });
  };
}
