import { afterEach } from "vitest";

/**
 * Returns a list a test pushes undo steps onto (stop this process, delete that vhost).
 * After each test the steps run newest first, every one of them even if an earlier one
 * fails, so no process or vhost outlives its test; then the first failure is rethrown.
 */
export function useCleanup(): Array<() => Promise<unknown>> {
  const steps: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    let failure: unknown;
    for (const step of steps.splice(0).reverse()) {
      await step().catch((error: unknown) => (failure ??= error));
    }
    if (failure !== undefined) throw failure;
  });
  return steps;
}
