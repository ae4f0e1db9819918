import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

/**
 * Where the handler replicas are: configured base URLs, each expanded to one URL per
 * address its host name resolves to. Locally that is a list of loopback URLs; in a
 * cluster, one headless Service name whose DNS A records are the ready pods. Resolved
 * again on every call, so replicas that come and go are followed.
 */
export class HandlerDirectory {
  readonly #bases: URL[];

  constructor(baseUrls: readonly string[]) {
    this.#bases = baseUrls.map((url) => new URL(url));
  }

  /** One base URL per replica, deduplicated; a name that does not resolve is left out. */
  async urls(): Promise<string[]> {
    const found = new Set<string>();
    for (const base of this.#bases) {
      for (const address of await addressesOf(base.hostname)) {
        const url = new URL(base.href);
        url.hostname = address.includes(":") ? `[${address}]` : address;
        found.add(url.origin);
      }
    }
    return [...found];
  }
}

/** The addresses `hostname` stands for: itself when it is one, else every DNS answer. */
async function addressesOf(hostname: string): Promise<string[]> {
  const bare = hostname.replace(/^\[|\]$/g, "");
  if (isIP(bare)) return [bare];
  try {
    const found = await lookup(bare, { all: true });
    // One family only: a dual-stack name (localhost, a dual-stack pod) lists each host twice.
    const v4 = found.filter((entry) => entry.family === 4);
    return (v4.length > 0 ? v4 : found).map((entry) => entry.address);
  } catch {
    return [];
  }
}
