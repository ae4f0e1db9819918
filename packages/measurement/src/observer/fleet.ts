import type { Received } from "../ledger.ts";
import { mergeRanges } from "../ledger.ts";
import { countOf, ReplicaClient, type ReplicaKey, type ReplicaReceived, type ReplicaStatus } from "./client.ts";
import type { HandlerDirectory } from "./directory.ts";
import { bucketQuantile } from "./histogram.ts";
import type { ClientTlsOptions } from "@switchyard/platform";

/** Every replica's status at one moment. */
export interface FleetSnapshot {
  replicas: ReplicaStatus[];
  /** Replica URLs that did not answer. */
  unreachable: string[];
}

/** What the handler replicas did over one transport between two snapshots. */
export interface HandlerDelta {
  handled: number;
  cpuMs: number;
  latency: { count: number; meanMs: number; p50Ms: number; p99Ms: number } | undefined;
  /** What the figures leave out (a replica that restarted or stopped answering). */
  notes: string[];
}

/** What a phase asks of the handlers besides its transports; {@link HandlerFleet} in production. */
export interface HandlerObserver {
  /** Every reachable replica's status, or undefined when none answers. */
  snapshot(): Promise<FleetSnapshot | undefined>;
  /**
   * What the replicas handled of `producerId`, as the union over every replica and every
   * incarnation seen answering for it so far; undefined when none could be asked.
   */
  received(producerId: string): Promise<Received | undefined>;
  /** Forgets what was remembered of `producerId` (its phase is over). */
  forget?(producerId: string): void;
}

const keyOf = (replica: ReplicaKey) => `${replica.handlerId}/${replica.incarnationId}`;

/**
 * All handler replicas, asked over ObservationService. Remembers each incarnation's last
 * answer per producer run, so a replica that restarts mid-phase still contributes what
 * its earlier incarnation reported before it went.
 */
export class HandlerFleet implements HandlerObserver {
  readonly #directory: HandlerDirectory;
  readonly #clients = new Map<string, ReplicaClient>();
  readonly #seen = new Map<string, Map<string, ReplicaReceived>>();
  /** Every incarnation that answered while a producer id was asked about, tracking it or not. */
  readonly #answered = new Map<string, Map<string, ReplicaKey>>();

  readonly #tls: ClientTlsOptions | undefined;

  /** `tls`: how to reach https:// replicas (the producer's HANDLER_TLS_DIR), as {@link ReplicaClient} takes it. */
  constructor(directory: HandlerDirectory, tls?: ClientTlsOptions) {
    this.#directory = directory;
    this.#tls = tls;
  }

  async snapshot(): Promise<FleetSnapshot | undefined> {
    const clients = await this.#currentClients();
    const answers = await Promise.all(clients.map((client) => client.status()));
    const replicas = answers.filter((answer) => answer !== undefined);
    if (replicas.length === 0) return undefined;
    return { replicas, unreachable: clients.filter((_, index) => answers[index] === undefined).map((client) => client.url) };
  }

  async received(producerId: string): Promise<Received | undefined> {
    const clients = await this.#currentClients();
    const answers = await Promise.all(clients.map((client) => client.received(producerId)));
    let seen = this.#seen.get(producerId);
    if (!seen) this.#seen.set(producerId, (seen = new Map()));
    let answered = this.#answered.get(producerId);
    if (!answered) this.#answered.set(producerId, (answered = new Map()));
    for (const answer of answers) {
      if (!answer) continue;
      answered.set(keyOf(answer), { handlerId: answer.handlerId, incarnationId: answer.incarnationId, startedAt: answer.startedAt });
      if (answer.tracked) seen.set(keyOf(answer), answer);
    }
    const unreachable = answers.filter((answer) => answer === undefined).length;
    if (unreachable === clients.length && seen.size === 0) return undefined;
    return { ...union([...seen.values()], unreachable), incarnations: [...answered.values()] };
  }

  forget(producerId: string): void {
    this.#seen.delete(producerId);
    this.#answered.delete(producerId);
  }

  /** Closes every replica client. */
  close(): void {
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }

  async #currentClients(): Promise<ReplicaClient[]> {
    const urls = await this.#directory.urls();
    for (const url of urls) if (!this.#clients.has(url)) this.#clients.set(url, new ReplicaClient(url, undefined, this.#tls));
    return urls.map((url) => this.#clients.get(url)!);
  }
}

/**
 * The union of several incarnations' answers: ranges merged, handled the distinct
 * sequences, and duplicates both those each counted and sequences more than one handled.
 */
export function union(answers: readonly ReplicaReceived[], unreachable = 0): Received {
  const ranges = mergeRanges(answers.flatMap((answer) => answer.ranges));
  const itemised = countOf(ranges);
  const overflow = answers.reduce((sum, answer) => sum + answer.overflow, 0);
  const overlap = answers.reduce((sum, answer) => sum + countOf(answer.ranges), 0) - itemised;
  return {
    tracked: answers.length > 0,
    ranges,
    handled: itemised + overflow,
    duplicates: answers.reduce((sum, answer) => sum + answer.duplicates, 0) + overlap,
    overflow,
    unreachable,
    incarnations: answers.map((answer) => ({ handlerId: answer.handlerId, incarnationId: answer.incarnationId, startedAt: answer.startedAt })),
    replicas: answers.map((answer) => ({
      handlerId: answer.handlerId,
      incarnationId: answer.incarnationId,
      startedAt: answer.startedAt,
      handled: answer.handled,
    })),
  };
}

/** What changed on every replica over `transport` between two snapshots. */
export function handlerDelta(before: FleetSnapshot, after: FleetSnapshot, transport: string): HandlerDelta {
  const earlier = new Map(before.replicas.map((replica) => [keyOf(replica), replica]));
  const notes: string[] = [];
  let handled = 0;
  let cpuMicros = 0;
  let sum = 0;
  const bounds = after.replicas[0]?.latencyBoundsSeconds ?? [];
  const counts = new Array<number>(bounds.length + 1).fill(0);
  for (const replica of after.replicas) {
    const was = earlier.get(keyOf(replica));
    earlier.delete(keyOf(replica));
    if (!was) {
      // A new incarnation starts from zero: all it reports happened since it started.
      notes.push(`handler ${replica.handlerId} started (or restarted) during the phase: its CPU and one-way latency before that are missing`);
    }
    const now = replica.transports.get(transport);
    const then = was?.transports.get(transport);
    handled += (now?.handled ?? 0) - (then?.handled ?? 0);
    cpuMicros += replica.cpuMicros - (was?.cpuMicros ?? 0);
    sum += (now?.latencySumSeconds ?? 0) - (then?.latencySumSeconds ?? 0);
    now?.latencyBucketCounts.forEach((count, index) => {
      if (index < counts.length) counts[index]! += count - (then?.latencyBucketCounts[index] ?? 0);
    });
  }
  for (const gone of earlier.values()) {
    notes.push(`handler ${gone.handlerId} (incarnation ${gone.incarnationId}) did not answer at the end of the phase (it stopped or restarted): its CPU and one-way latency during the phase are missing`);
  }
  const count = counts.reduce((total, value) => total + value, 0);
  return {
    handled,
    cpuMs: cpuMicros / 1000,
    latency: count > 0
      ? {
          count,
          meanMs: (sum / count) * 1000,
          p50Ms: bucketQuantile(0.5, bounds, counts) * 1000,
          p99Ms: bucketQuantile(0.99, bounds, counts) * 1000,
        }
      : undefined,
    notes,
  };
}
