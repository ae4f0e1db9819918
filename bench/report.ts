import type { Sample } from "./run.ts";
import type { Row } from "./rows.ts";
import { spread, type Spread } from "./lib/stats.ts";

/** What run.ts writes as JSON and prints as a table. */
export interface Report {
  settings: { rounds: number; seconds: number; payloads: number[]; concurrency: number; confirmWindow: number; prefetch: number; deadlineMs: number };
  rows: readonly Row[];
  samples: Sample[];
  idle: Array<{ group: string; row: string; rssBytes: number }>;
}

const number = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : "–");
const range = (s: Spread, digits = 0) => `${number(s.median, digits)} [${number(s.min, digits)}–${number(s.max, digits)}]`;

/**
 * Ratios of a row to its group's reference, one per round (the two measured minutes
 * apart at most), so a slow round moves both sides of the ratio alike.
 */
function ratios(samples: Sample[], reference: Sample[], pick: (sample: Sample) => number): Spread {
  const values: number[] = [];
  for (const sample of samples) {
    const ref = reference.find((other) => other.round === sample.round);
    if (ref && pick(ref) > 0) values.push(pick(sample) / pick(ref));
  }
  return spread(values);
}

/** Prints one markdown table per group and payload: median [min–max] over rounds. */
export function printTable(report: Report): void {
  const groups = [...new Set(report.rows.map((row) => row.group))];
  const { settings } = report;
  console.log(
    `\n${settings.rounds} interleaved rounds of ${settings.seconds} s · concurrency ${settings.concurrency} · confirm window ${settings.confirmWindow} · prefetch ${settings.prefetch} · deadline ${settings.deadlineMs} ms · median [min–max]`,
  );
  for (const group of groups) {
    for (const payloadBytes of settings.payloads) {
      const rows = report.rows.filter((row) => row.group === group);
      const ofRow = (row: Row) => report.samples.filter((sample) => sample.group === group && sample.row === row.name && sample.payloadBytes === payloadBytes);
      const reference = ofRow(rows[0]!);
      if (reference.length === 0) continue;
      const amqp = rows[0]!.kind === "amqp";
      console.log(`\n### ${group}, ${payloadBytes} B payload\n`);
      console.log(
        `| ${["row", "msg/s", "× ref msg/s", "CPU µs/msg", "× ref CPU", "p50 ms", "p99 ms", "RSS MiB"].join(" | ")} |${amqp ? " publisher + consumer µs/msg |" : ""}`,
      );
      console.log(`|${"---|".repeat(amqp ? 9 : 8)}`);
      for (const row of rows) {
        const samples = ofRow(row);
        if (samples.length === 0) continue;
        const cells = [
          row.name,
          range(spread(samples.map((s) => s.throughput))),
          range(ratios(samples, reference, (s) => s.throughput), 2),
          range(spread(samples.map((s) => s.cpuUsPerMessage))),
          range(ratios(samples, reference, (s) => s.cpuUsPerMessage), 2),
          number(spread(samples.map((s) => s.p50Us / 1000)).median, 2),
          number(spread(samples.map((s) => s.p99Us / 1000)).median, 2),
          number(Math.max(...samples.map((s) => s.rssBytes)) / 2 ** 20),
        ];
        if (amqp) {
          const publisher = spread(samples.map((s) => s.publisher?.cpuUsPerMessage ?? Number.NaN)).median;
          const consumer = spread(samples.map((s) => s.consumer?.cpuUsPerMessage ?? Number.NaN)).median;
          cells.push(`${number(publisher)} + ${number(consumer)}`);
        }
        const failed = samples.reduce((sum, s) => sum + s.failed, 0);
        console.log(`| ${cells.join(" | ")} |${failed > 0 ? ` ⚠ ${failed} failed: ${samples.find((s) => s.firstError)?.firstError ?? ""}` : ""}`);
      }
    }
  }
}

/** Prints resident memory per row: idle (started, before load) and the most seen under load. */
export function printMemory(report: Report): void {
  console.log(`\n### Resident memory (MiB; AMQP rows: publisher + consumer)\n`);
  console.log(`| group | row | idle | under load, largest |`);
  console.log(`|---|---|---|---|`);
  for (const { group, row, rssBytes } of report.idle) {
    const loaded = report.samples.filter((sample) => sample.group === group && sample.row === row).map((sample) => sample.rssBytes);
    console.log(`| ${group} | ${row} | ${number(rssBytes / 2 ** 20)} | ${loaded.length > 0 ? number(Math.max(...loaded) / 2 ** 20) : "–"} |`);
  }
}
