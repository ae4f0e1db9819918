import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/**
 * Established TCP connections that processes `pids` hold to any of the remote `ports`, read from
 * /proc (Linux): each process's socket inodes, matched against /proc/net/tcp and tcp6.
 * Counting the owners' sockets, not the port's, leaves out anyone else's connections
 * to a shared broker. Processes that are gone count nothing.
 */
export function connectionsTo(pids: readonly number[], ports: readonly number[]): number {
  const inodes = new Set<string>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (match) inodes.add(match[1]!);
      } catch {
        // Closed while being read.
      }
    }
  }
  let count = 0;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let lines: string[];
    try {
      lines = readFileSync(table, "utf8").split("\n").slice(1);
    } catch {
      continue;
    }
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (fields.length < 10 || fields[3] !== "01") continue;
      const remotePort = Number.parseInt(fields[2]!.split(":")[1]!, 16);
      if (ports.includes(remotePort) && inodes.has(fields[9]!)) count += 1;
    }
  }
  return count;
}
