// Inclusive (total) time of the frames in a V8 .cpuprofile: the time spent in a function
// and everything it called, each sample counted once per distinct frame on its stack.
// Where top-frames.ts says which leaf burns the CPU, this says which caller it is for:
// e.g. how much of a call goes through Fastify's hooks or switchyard's layers.
// Usage: node bench/tools/inclusive.ts <file.cpuprofile> [regex on "function file:line"] [top N]
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Inclusive time per frame key, in microseconds, and the busy total. */
export function inclusiveTimes(profile: Profile): { frames: Map<string, number>; total: number } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const key = (node: ProfileNode) => {
    const frame = node.callFrame;
    const short = frame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(services|packages|bench)\//, "$1/");
    return `${frame.functionName || "(anonymous)"} ${short}:${frame.lineNumber + 1}`;
  };
  const frames = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, index) => {
    const micros = profile.timeDeltas[index] ?? 0;
    const leaf = byId.get(id)!.callFrame;
    if (leaf.functionName === "(idle)" || leaf.functionName === "(program)" || leaf.url === "node:inspector") return;
    total += micros;
    const seen = new Set<string>();
    // Bounded by the stack depth: parents form a tree rooted at (root).
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) seen.add(key(byId.get(at)!));
    for (const frame of seen) frames.set(frame, (frames.get(frame) ?? 0) + micros);
  });
  return { frames, total };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, pattern, topArg] = process.argv.slice(2);
  if (!file) throw new Error("usage: node bench/tools/inclusive.ts <file.cpuprofile> [regex] [top N]");
  const filter = new RegExp(pattern ?? ".");
  const top = Number(topArg ?? 30);
  const { frames, total } = inclusiveTimes(JSON.parse(readFileSync(file, "utf8")) as Profile);
  console.log(`busy (non-idle) samples: ${(total / 1000).toFixed(0)} ms; inclusive share of busy time:`);
  for (const [frame, micros] of [...frames].filter(([frame]) => filter.test(frame)).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${`${((100 * micros) / total).toFixed(1)}%`.padStart(6)}  ${frame}`);
  }
}
