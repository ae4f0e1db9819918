// Prints what the handler's SequenceSet costs on 200,000 sequences in several orders:
// the adds, then reading every range back in pages as GetReceived serves them.
// A benchmark, not a test: it prints figures and asserts nothing.
// Run with `npm run bench:ledger` (prefix `nice` on a shared machine).
import { BLOCK_SEQUENCES, SequenceSet } from "../src/sequence-set.ts";

const COUNT = 200_000;
/** Ranges per page, as the producer asks for them. */
const PAGE_SIZE = 10_000;

/** A deterministic pseudo-random source in [0, 1) (mulberry32), so every run measures the same input. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), state | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 2 ** 32;
  };
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

const sprayRandom = seeded(53);
const orders: Array<[string, number[]]> = [
  ["in order 1..200k", Array.from({ length: COUNT }, (_, i) => i + 1)],
  ["every other one, descending (200k isolated sequences)", Array.from({ length: COUNT }, (_, i) => 2 * (COUNT - i))],
  ["gapped (every 3rd missing), shuffled within 5,000", shuffleWithin(Array.from({ length: 1.5 * COUNT }, (_, i) => i + 1).filter((n) => n % 3 !== 0), 5_000, seeded(7))],
  ["fully shuffled 1..200k", shuffleWithin(Array.from({ length: COUNT }, (_, i) => i + 1), COUNT, seeded(11))],
  ["interleaved 1 of 3 (one of three replicas of a 600k run)", Array.from({ length: COUNT }, (_, i) => 3 * i + 1)],
  // A hostile client: sequences anywhere in 53 bits, one block each until the cap.
  ["sprayed over 53 bits (hostile; past the block cap)", Array.from({ length: COUNT }, () => Math.floor(sprayRandom() * 2 ** 31) * 2 ** 22 + Math.floor(sprayRandom() * 2 ** 22))],
];

/** Adds `values` to a new set, then reads every page back; returns the set and the times. */
function measure(values: number[]): {
  set: SequenceSet;
  addMs: number;
  addCpuMs: number;
  pages: number;
  ranges: number;
  pagesMs: number;
  pagesCpuMs: number;
} {
  const set = new SequenceSet();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (const value of values) set.add(value);
  const added = performance.now();
  const addCpu = process.cpuUsage(cpu);
  const pagesCpu = process.cpuUsage();
  let after = 0;
  let pages = 0;
  let ranges = 0;
  for (;;) {
    const page = set.page(after, PAGE_SIZE);
    pages++;
    ranges += page.ranges.length;
    if (page.next === undefined) break;
    after = page.next;
  }
  const pagesMs = performance.now() - added;
  const { user, system } = process.cpuUsage(pagesCpu);
  return { set, addMs: added - started, addCpuMs: (addCpu.user + addCpu.system) / 1_000, pages, ranges, pagesMs, pagesCpuMs: (user + system) / 1_000 };
}

const format = (value: number) => value.toLocaleString("en-US");
let total = 0;
let totalCpu = 0;
for (const [name, values] of orders) {
  // A warm-up pass so the figure is the steady cost, not the compiler's.
  measure(values);
  const { set, addMs, addCpuMs, pages, ranges, pagesMs, pagesCpuMs } = measure(values);
  total += addMs;
  totalCpu += addCpuMs;
  console.log(
    `${name}: ${format(values.length)} adds in ${addMs.toFixed(1)} ms (${((addMs * 1e6) / values.length).toFixed(0)} ns each; ${addCpuMs.toFixed(1)} ms of CPU);` +
      ` ${format(set.blockCount)} blocks (${format((set.blockCount * BLOCK_SEQUENCES) / 8 / 1024)} KiB of bits), ${format(set.overflow)} members over the cap;` +
      ` all ${format(ranges)} ranges read in ${pages} pages of up to ${format(PAGE_SIZE)} in ${pagesMs.toFixed(1)} ms (${pagesCpuMs.toFixed(1)} ms of CPU)`,
  );
}
console.log(`all ${orders.length} orders: ${format(orders.length * COUNT)} adds in ${total.toFixed(1)} ms (${totalCpu.toFixed(1)} ms of CPU)`);
