import { defineConfig } from "vitest/config";

// The cluster tests: run by `npm run test:cluster` against the one-node cluster that
// scripts/cluster/up brings up, never by `npm test` (the root config includes only
// *.test.ts files; these are *.cluster.ts). One file at a time: they share one node.
export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["tests/cluster/**/*.cluster.ts"],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    maxWorkers: 1,
    reporters: ["default"],
  },
});
