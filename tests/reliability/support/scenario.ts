import { expect } from "vitest";
import { eventually } from "../../support/broker.ts";
import { drainDeadLetters, recordBrokerCounts, type Ctl, type DeadLetter } from "./broker-view.ts";
import type { HandlerProcess } from "./handler-process.ts";
import type { ScenarioFigures, ScenarioLedger } from "./ledger.ts";
import type { Load } from "./load.ts";
import { reportRow } from "./report.ts";

/**
 * Longest wait for the system to work again once a fault has ended. Generous on
 * purpose (the services' reconnect backoff is capped at a few seconds): it bounds the
 * scenario, and the recovery column reports the time actually taken.
 */
export const RECOVERY_BOUND_MS = 30_000;

/** Anything with a /readyz: a handler, or the producer. */
export interface Readyz {
  readyz(): Promise<number>;
}

/**
 * Waits until every service is ready again and every load has an acknowledgement of a
 * send started after `faultEnd`, then records the latest of these as the recovery.
 */
export async function awaitRecovery(
  ledger: ScenarioLedger,
  services: readonly Readyz[],
  loads: readonly Load[],
  faultEnd: number,
): Promise<void> {
  ledger.faultEnded(faultEnd);
  const seconds = (at: number) => ((at - faultEnd) / 1000).toFixed(1);
  const ready = await Promise.all(
    services.map(async (service) => {
      await eventually(async () => (await service.readyz()) === 200, RECOVERY_BOUND_MS, 100);
      return performance.now();
    }),
  );
  const acknowledged = await Promise.all(loads.map((load) => load.acknowledgedSince(faultEnd, RECOVERY_BOUND_MS)));
  ledger.recovered(Math.max(faultEnd, ...ready, ...acknowledged));
  // The parts of the recovery figure, for the reader of the log.
  console.info(`${ledger.scenario}: ready after ${ready.map(seconds).join(" s, ")} s; first acknowledged send after ${acknowledged.map(seconds).join(" s, ") || "–"} s`);
}

/** Where a scenario's messages live, for the final reconciliation. */
export interface Settlement {
  ledger: ScenarioLedger;
  runId: string;
  /** rabbitmqctl for the node the scenario's vhost is on. */
  ctl: Ctl;
  vhost: string;
  /** amqp URL of that vhost, to read the dead-letter queue. */
  amqpUrl: string;
  /** Handler incarnations still running; each is asked for its final report. */
  handlers: readonly HandlerProcess[];
  /**
   * Messages of other runs (hostile input) expected in the dead-letter queue: they are
   * taken out of the broker's DLQ count before it is compared with the run's.
   */
  otherDeadLetters?: (letters: readonly DeadLetter[]) => number;
}

/**
 * Ends a scenario: waits (bounded) until the broker's books can balance, records the
 * broker's counts, asks every live handler for its final report, takes the dead-letter
 * queue's messages, and reports the reconciled row. Returns the row and the dead letters.
 */
export async function settle(settlement: Settlement): Promise<{ figures: ScenarioFigures; deadLetters: DeadLetter[] }> {
  const { ledger, runId, ctl, vhost, amqpUrl, handlers } = settlement;
  // What the live handlers report handled so far, summed over their ranges: an upper
  // bound on distinct handled work, enough to tell when the books may balance.
  const handledNow = async () => {
    let total = 0;
    for (const handler of handlers) for (const range of (await handler.report(runId)).ranges) total += range.last - range.first + 1;
    return total;
  };
  const counts = await recordBrokerCounts(ctl, vhost, ledger, handledNow);
  // The ledger is written before the ack, so once the queue is empty the reports are final.
  for (const handler of handlers) ledger.addIncarnation(await handler.report(runId));
  const deadLetters = await drainDeadLetters(amqpUrl, runId, ledger);
  const others = settlement.otherDeadLetters?.(deadLetters) ?? 0;
  ledger.brokerCounts({ ...counts, deadLettered: counts.deadLettered - others });
  const figures = ledger.figures();
  reportRow(figures);
  return { figures, deadLetters };
}

/**
 * The suite's one promise, asserted for every scenario: nothing acknowledged is lost,
 * by the handler's ledger and by the broker's counts; nothing is left in the queue; and
 * the handler's ledger names no work it did not count as handled.
 */
export function expectNothingLost(figures: ScenarioFigures): void {
  expect(figures.acknowledged, "the load had work acknowledged").toBeGreaterThan(0);
  expect(figures.queued, "messages left in the work queue").toBe(0);
  expect(figures.unbacked, "receipts in the handler's ledger without an ok count behind them").toBe(0);
  expect(figures.lost, "acknowledged, never handled, not dead-lettered (handler's ledger)").toBe(0);
  expect(figures.lostByBrokerCounts, "acknowledged − handled − queued − dead-lettered (broker's counts)").toBe(0);
}
