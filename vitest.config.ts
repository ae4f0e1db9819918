import { defineConfig } from "vitest/config";

// One suite for the whole repository, cheapest tests first by folder convention:
// unit tests beside the code (packages/*/test, services/*/test, tools/*/test), cross-service tests
// under tests/. Integration tests use a real RabbitMQ, real helm, real Prometheus.
export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "services/*/test/**/*.test.ts", "tools/*/test/**/*.test.ts", "tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Files run in parallel; each isolates itself (own vhost, port 0). Two workers
    // match the 2-core machines this runs on.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
