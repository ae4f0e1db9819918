// Summarises a V8 .cpuprofile (node --cpu-prof): the functions with the most self time,
// and self time per package, so a profile can be read without a flame-graph viewer.
// Usage: node bench/tools/top-frames.ts <file.cpuprofile> [top N]
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: a package under node_modules, node's own, or the repo. */
export function owner(url: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith("node:")) return "node (lib)";
  if (url === "") return "(native / V8 / GC)";
  const repo = /\/(services|packages|bench)\/([^/]+)/.exec(url);
  return repo ? `${repo[1]}/${repo[2]}` : url;
}

/** Self time per frame and per owner, in microseconds, from one profile. */
export function selfTimes(profile: Profile): { frames: Map<string, number>; owners: Map<string, number>; total: number } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const frames = new Map<string, number>();
  const owners = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, index) => {
    const micros = profile.timeDeltas[index] ?? 0;
    const frame = byId.get(id)!.callFrame;
    // Idle time, and the profiler's own stop call at the end of the window, are not the process's work.
    if (frame.functionName === "(idle)" || frame.functionName === "(program)" || frame.url === "node:inspector") return;
    total += micros;
    const short = frame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(services|packages|bench)\//, "$1/");
    const key = `${frame.functionName || "(anonymous)"} ${short}:${frame.lineNumber + 1}`;
    frames.set(key, (frames.get(key) ?? 0) + micros);
    const who = owner(frame.url);
    owners.set(who, (owners.get(who) ?? 0) + micros);
  });
  return { frames, owners, total };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) throw new Error("usage: node bench/tools/top-frames.ts <file.cpuprofile> [top N]");
  const top = Number(process.argv[3] ?? 20);
  const { frames, owners, total } = selfTimes(JSON.parse(readFileSync(file, "utf8")) as Profile);
  const share = (micros: number) => `${((100 * micros) / total).toFixed(1)}%`.padStart(6);
  console.log(`busy (non-idle) samples: ${(total / 1000).toFixed(0)} ms\n\nself time by owner:`);
  for (const [who, micros] of [...owners].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${share(micros)}  ${who}`);
  console.log(`\ntop ${top} functions by self time:`);
  for (const [key, micros] of [...frames].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${share(micros)}  ${key}`);
}
