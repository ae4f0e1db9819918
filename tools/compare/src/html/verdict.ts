import { formatBytes, type Row } from "../report.ts";
import { esc } from "./svg.ts";

/** Whether a phase's delivery held: `pass`, `fail` (lost, duplicated or errors) or `unknown`. */
export type Verdict = "pass" | "fail" | "unknown";

/** A phase's verdict: nothing lost or duplicated and no error passes; unknown loss is not a pass. */
export function phaseVerdict(row: Row): Verdict {
  if ((row.lost ?? 0) > 0 || (row.duplicated ?? 0) > 0 || row.errors > 0) return "fail";
  if (row.lost === undefined) return "unknown";
  return "pass";
}

/** The run's verdict: the worst of its phases'. */
export function runVerdict(rows: readonly Row[]): Verdict {
  const verdicts = rows.map(phaseVerdict);
  if (verdicts.includes("fail")) return "fail";
  if (verdicts.includes("unknown") || verdicts.length === 0) return "unknown";
  return "pass";
}

const BANNER: Record<Verdict, string> = {
  pass: "Every phase: nothing lost, no duplicates, no errors",
  fail: "Messages were lost or duplicated, or sends failed",
  unknown: "Loss could not be established for every phase",
};

/** The verdict as a banner and a table of lost, duplicate and error counts per phase. */
export function verdictSection(rows: readonly Row[]): string {
  const verdict = runVerdict(rows);
  const cells = rows.map((row) => {
    const phase = phaseVerdict(row);
    const count = (value: number | undefined) => `<td class="num ${value === undefined ? "unknown" : value > 0 ? "fail" : ""}">${value === undefined ? "–" : value.toLocaleString("en-US")}</td>`;
    return `<tr class="verdict-row ${phase}" data-verdict="${phase}"><td>${esc(row.transport)}</td><td>${esc(formatBytes(row.payloadBytes))}</td>${count(row.lost)}${count(row.duplicated)}${count(row.errors)}<td class="num">${row.sent.toLocaleString("en-US")}</td><td class="num">${row.acknowledged.toLocaleString("en-US")}</td><td class="num">${row.received === undefined ? "–" : row.received.toLocaleString("en-US")}</td><td>${esc(row.lossBasis)}</td><td class="badge ${phase}">${phase}</td></tr>`;
  });
  return [
    `<section class="verdict" data-verdict="${verdict}"><h2>Delivery</h2>`,
    `<p class="banner ${verdict}">${esc(BANNER[verdict])}</p>`,
    `<table><thead><tr><th>transport</th><th>payload</th><th>lost</th><th>dup</th><th>errors</th><th>sent</th><th>acknowledged</th><th>received</th><th>loss from</th><th>verdict</th></tr></thead><tbody>${cells.join("")}</tbody></table>`,
    `</section>`,
  ].join("");
}
