// CPU per message by package, from a `npm run bench -- --profile` run: each profiled
// window's self time per package divided by the messages that window handled. Puts a
// switchyard row and its reference side by side in the same unit.
// Usage: node bench/tools/per-message.ts results/bench/<timestamp>.json [top N packages]
import { readFileSync } from "node:fs";
import type { Report } from "../report.ts";
import { selfTimes } from "./top-frames.ts";

const [json, topArg] = process.argv.slice(2);
if (!json) throw new Error("usage: node bench/tools/per-message.ts results/bench/<timestamp>.json [top N]");
const top = Number(topArg ?? 6);
const report = JSON.parse(readFileSync(json, "utf8")) as Report;
const dir = json.replace(/\.json$/, "-profiles");
const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, "-");

console.log("| row | messages | busy µs/msg | largest shares, µs/msg |\n|---|---|---|---|");
for (const sample of report.samples.filter((s) => s.round === 1 && s.ok > 0)) {
  // AMQP rows profile both sides; RPC rows the one measured process.
  const names = sample.publisher ? [`${sample.group}: ${sample.row} publisher`, `${sample.group}: ${sample.row} consumer`] : [`${sample.group}: ${sample.row}`];
  for (const name of names) {
    let profile;
    try {
      profile = JSON.parse(readFileSync(`${dir}/${slug(`${name}-${sample.payloadBytes}`)}.cpuprofile`, "utf8"));
    } catch {
      continue;
    }
    const { owners, total } = selfTimes(profile);
    const per = (micros: number) => (micros / sample.ok).toFixed(0);
    const shares = [...owners].sort((a, b) => b[1] - a[1]).slice(0, top).map(([owner, micros]) => `${owner} ${per(micros)}`);
    console.log(`| ${name}, ${sample.payloadBytes} B | ${sample.ok} | ${per(total)} | ${shares.join(" · ")} |`);
  }
}
