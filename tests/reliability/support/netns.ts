import { execFile } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { networkInterfaces } from "node:os";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A network namespace of the test's own, joined to the host by a veth pair on a private /30. */
export interface NetworkNamespace {
  /** `sy-rel-<random>`; processes join it with `nsenter --net=/run/netns/<name>`. */
  name: string;
  /** The host's end of the veth pair (10.x.y.z/30): what the namespace reaches the host by. */
  hostAddress: string;
  /** The namespace's end: what the host reaches processes inside by. */
  nsAddress: string;
  /** Adds an iptables rule to the namespace's INPUT chain; {@link clear} or {@link destroy} removes it. */
  drop(rule: readonly string[]): Promise<void>;
  /** Removes every rule {@link drop} added. */
  clear(): Promise<void>;
  /** Removes the rules, the veth pair and the namespace. Safe to call twice. */
  destroy(): Promise<void>;
}

/**
 * Creates a namespace `sy-rel-<random>` with a veth pair to the host on a /30 taken at
 * random from 10.213.0.0/16 and checked against the host's addresses. Needs root.
 * Traffic crosses the veth pair, so iptables rules inside the namespace cut or thin it
 * without touching the host's own rules or anyone else's traffic.
 */
export async function createNetworkNamespace(): Promise<NetworkNamespace> {
  if (process.getuid?.() !== 0) throw new Error("a network namespace needs root");
  const suffix = randomBytes(3).toString("hex");
  const name = `sy-rel-${suffix}`;
  const hostLink = `syh${suffix}`;
  const nsLink = `syn${suffix}`;
  const used = new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((entry) => entry.address)));
  let base: string;
  do base = `10.213.${randomInt(0, 256)}.${randomInt(0, 64) * 4}`;
  while ([1, 2].some((offset) => used.has(base.replace(/\d+$/, (last) => String(Number(last) + offset)))));
  const [hostAddress, nsAddress] = [1, 2].map((offset) => base.replace(/\d+$/, (last) => String(Number(last) + offset))) as [string, string];
  const ip = (...args: string[]) => run("ip", args, { timeout: 10_000 });
  const inside = (...args: string[]) => run("ip", ["netns", "exec", name, ...args], { timeout: 10_000 });
  const rules: string[][] = [];
  let destroyed = false;
  const namespace: NetworkNamespace = {
    name,
    hostAddress,
    nsAddress,
    drop: async (rule) => {
      await inside("iptables", "-A", "INPUT", "-i", nsLink, ...rule, "-j", "DROP");
      rules.push([...rule]);
    },
    clear: async () => {
      for (const rule of rules.splice(0)) await inside("iptables", "-D", "INPUT", "-i", nsLink, ...rule, "-j", "DROP").catch(() => undefined);
    },
    destroy: async () => {
      if (destroyed) return;
      destroyed = true;
      await namespace.clear();
      // Deleting one end of a veth pair deletes both; the namespace goes last.
      await ip("link", "del", hostLink).catch(() => undefined);
      await ip("netns", "del", name).catch(() => undefined);
    },
  };
  try {
    await ip("netns", "add", name);
    await ip("link", "add", hostLink, "type", "veth", "peer", "name", nsLink);
    await ip("link", "set", nsLink, "netns", name);
    await ip("addr", "add", `${hostAddress}/30`, "dev", hostLink);
    await ip("link", "set", hostLink, "up");
    await inside("ip", "addr", "add", `${nsAddress}/30`, "dev", nsLink);
    await inside("ip", "link", "set", nsLink, "up");
    await inside("ip", "link", "set", "lo", "up");
  } catch (error) {
    await namespace.destroy();
    throw error;
  }
  return namespace;
}
