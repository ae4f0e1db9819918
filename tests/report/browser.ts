// Headless Chromium (Debian's, installed by scripts/ensure-chromium.sh) kept off the
// network: only file: URLs load, everything else is refused and remembered.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

/** Flags that keep Chromium from reaching anything on its own (updates, sync, QUIC probes …). */
export const OFFLINE_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A page in a fresh profile, and the non-file: requests it tried (all refused). */
export interface OfflinePage {
  page: Page;
  refused: string[];
  close(): Promise<void>;
}

/** Opens a page in a new Chromium with a fresh user data directory, refusing every request that is not file:. */
export async function openOffline(viewport = { width: 1240, height: 900 }): Promise<OfflinePage> {
  const profile = mkdtempSync(join(tmpdir(), "switchyard-chromium-"));
  let context: BrowserContext;
  try {
    // Playwright passes the profile as --user-data-dir itself.
    context = await chromium.launchPersistentContext(profile, { executablePath: "/usr/bin/chromium", headless: true, args: OFFLINE_FLAGS, viewport });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  const refused: string[] = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file:")) return route.continue();
    refused.push(url);
    return route.abort("blockedbyclient");
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    page,
    refused,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
