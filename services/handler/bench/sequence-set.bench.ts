// Prints what the handler's SequenceSet costs on 200,000 out-of-order sequences, in
// three orders. A benchmark, not a test: it prints figures and asserts nothing.
// Run with `npm run bench:ledger`.
import { SequenceSet } from "../src/sequence-set.ts";

const COUNT = 200_000;

/** A deterministic pseudo-random source, so every run measures the same input. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

/** Shuffles `values` in place within consecutive windows of `window` (Fisher–Yates). */
function shuffleWithin(values: number[], window: number, random: () => number): number[] {
  for (let start = 0; start < values.length; start += window) {
    for (let i = Math.min(values.length, start + window) - 1; i > start; i--) {
      const j = start + Math.floor(random() * (i - start + 1));
      [values[i], values[j]] = [values[j]!, values[i]!];
    }
  }
  return values;
}

const orders: Array<[string, number[], number?]> = [
  ["in order", Array.from({ length: COUNT }, (_, i) => i + 1)],
  ["every other one, descending (200k isolated sequences)", Array.from({ length: COUNT }, (_, i) => 2 * (COUNT - i))],
  ["gapped (every 3rd missing), shuffled within 5,000", shuffleWithin(Array.from({ length: 1.5 * COUNT }, (_, i) => i + 1).filter((n) => n % 3 !== 0), 5_000, seeded(7))],
  ["fully shuffled 1..200k", shuffleWithin(Array.from({ length: COUNT }, (_, i) => i + 1), COUNT, seeded(11))],
  // No cap in reach: the amortised merge alone, with up to ~50k ranges at once.
  ["fully shuffled 1..200k, cap 200k ranges", shuffleWithin(Array.from({ length: COUNT }, (_, i) => i + 1), COUNT, seeded(11)), COUNT],
];

for (const [name, values, maxRanges] of orders) {
  // A warm-up pass so the figure is the steady cost, not the compiler's.
  const warm = new SequenceSet({ maxRanges });
  for (const value of values) warm.add(value);
  const set = new SequenceSet({ maxRanges });
  const started = performance.now();
  for (const value of values) set.add(value);
  const ranges = set.rangeCount;
  const pageStarted = performance.now();
  const page = set.page(0, 1_000);
  const finished = performance.now();
  console.log(
    `${name}: ${values.length.toLocaleString("en-US")} adds in ${(pageStarted - started).toFixed(1)} ms` +
      ` (${(((pageStarted - started) * 1e6) / values.length).toFixed(0)} ns each); ${ranges.toLocaleString("en-US")} ranges kept,` +
      ` ${set.overflow.toLocaleString("en-US")} members over the cap; first page of ${page.ranges.length} ranges in ${(finished - pageStarted).toFixed(2)} ms`,
  );
}
