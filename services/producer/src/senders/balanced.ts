import type { Work } from "@switchyard/contracts";
import type { CompareTransport, HandlerDirectory, Sender, SendResult } from "@switchyard/measurement";

/** How RPC senders pick a handler replica; mirrors HANDLER_RPC_BALANCING. */
export type RpcBalancing = "off" | "round_robin";

/** How often a balanced sender resolves the replica addresses again. */
const RESOLVE_EVERY_MS = 10_000;

/**
 * Client-side round robin over every handler replica address: each send goes to the
 * next address in turn, over that address's own connection. Addresses are resolved
 * again every {@link RESOLVE_EVERY_MS}, so replicas that come and go are followed.
 *
 * Without it an RPC client keeps one connection to one address: behind a ClusterIP
 * Service, gRPC's single HTTP/2 connection pins every message to one pod. A name that
 * resolves to one address (a ClusterIP Service) is simply used; a headless Service's
 * name resolves to every ready pod.
 */
export class RoundRobinSender implements Sender {
  readonly transport: CompareTransport;
  readonly #directory: HandlerDirectory;
  readonly #connect: (url: string) => Sender;
  readonly #senders = new Map<string, Sender>();
  #rotation: Sender[] = [];
  #next = 0;
  #resolving: Promise<void> | undefined;
  #resolvedAt = -Infinity;
  #closed = false;

  constructor(transport: CompareTransport, directory: HandlerDirectory, connect: (url: string) => Sender) {
    this.transport = transport;
    this.#directory = directory;
    this.#connect = connect;
  }

  async send(work: Work, timeoutMs: number): Promise<SendResult> {
    if (performance.now() - this.#resolvedAt > RESOLVE_EVERY_MS) {
      this.#resolving ??= this.#resolve().finally(() => (this.#resolving = undefined));
      // Only the first send waits; later ones use the rotation they have while it refreshes.
      if (this.#rotation.length === 0) await this.#resolving;
    }
    const rotation = this.#rotation;
    if (rotation.length === 0) return { outcome: "unavailable", bytes: 0 };
    const sender = rotation[this.#next++ % rotation.length]!;
    return sender.send(work, timeoutMs);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#resolving;
    await Promise.all([...this.#senders.values()].map((sender) => sender.close()));
    this.#senders.clear();
    this.#rotation = [];
  }

  async #resolve(): Promise<void> {
    const urls = await this.#directory.urls();
    this.#resolvedAt = performance.now();
    if (this.#closed) return;
    for (const url of urls) if (!this.#senders.has(url)) this.#senders.set(url, this.#connect(url));
    // An address that is gone leaves the rotation; its connection closes with the sender.
    this.#rotation = urls.map((url) => this.#senders.get(url)!);
  }
}
