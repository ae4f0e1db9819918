import { toJsonString } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { HandleRequestSchema, HandlerService, type Work } from "@switchyard/contracts";
import type { Sender, SendResult } from "@switchyard/measurement";
import { httpsAgent } from "@switchyard/platform";
import { Agent } from "node:http";
import { sendRpc, SizeSampler, type ClientTlsOptions } from "./sender.ts";

/**
 * The Connect protocol with JSON bodies over HTTP/1.1 to the handler's HTTP listener:
 * what `curl` would send. HTTP/1.1 carries one request per connection at a time, so
 * concurrent sends use a pool of keep-alive connections.
 */
export class ConnectSender implements Sender {
  readonly transport = "connect" as const;
  readonly #client: Client<typeof HandlerService>;
  readonly #agent: Agent;
  readonly #encoder = new TextEncoder();
  readonly #sizes = new SizeSampler(
    (work) => this.#encoder.encode(toJsonString(HandleRequestSchema, { $typeName: HandleRequestSchema.typeName, work })).byteLength,
  );

  /**
   * `tls` applies to an https:// `baseUrl`: HTTP/1.1 over TLS, connections pooled as in
   * cleartext; reloaded material reaches the connections opened after the reload.
   */
  constructor(baseUrl: string, tls?: ClientTlsOptions) {
    const pool = { keepAlive: true, maxSockets: 256, maxFreeSockets: 256 };
    this.#agent = new URL(baseUrl).protocol === "https:" ? httpsAgent(tls, pool) : new Agent(pool);
    this.#client = createClient(
      HandlerService,
      createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, nodeOptions: { agent: this.#agent } }),
    );
  }

  send(work: Work, timeoutMs: number): Promise<SendResult> {
    return sendRpc(this.#client, work, timeoutMs, this.#sizes.size(work));
  }

  async close(): Promise<void> {
    this.#agent.destroy();
  }
}
