import { randomUUID } from "node:crypto";

/** The local broker's management API; the set-up scripts enable the plugin. */
export const MANAGEMENT_URL = process.env.RABBITMQ_MANAGEMENT_URL ?? "http://127.0.0.1:15672";
const AUTH = `Basic ${Buffer.from("guest:guest").toString("base64")}`;

/** Calls the RabbitMQ management HTTP API and returns the parsed JSON body (or undefined). */
export async function management(path: string, init: RequestInit = {}): Promise<unknown> {
  const response = await fetch(`${MANAGEMENT_URL}/api${path}`, {
    ...init,
    headers: { authorization: AUTH, "content-type": "application/json", ...init.headers },
  });
  if (!response.ok && response.status !== 404) {
    throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${await response.text()}`);
  }
  const text = await response.text();
  return text === "" ? undefined : JSON.parse(text);
}

/** A vhost of the test's own, deleted (with everything in it) by `delete`. */
export interface TestVhost {
  name: string;
  /** amqp URL for the vhost, as guest over loopback. */
  url: string;
  delete(): Promise<void>;
}

/**
 * Creates a fresh vhost so a test's topology, queues and messages never meet another
 * test's. Call `delete` in afterAll.
 */
export async function createTestVhost(prefix = "switchyard-test"): Promise<TestVhost> {
  const name = `${prefix}-${randomUUID().slice(0, 8)}`;
  const encoded = encodeURIComponent(name);
  await management(`/vhosts/${encoded}`, { method: "PUT", body: JSON.stringify({ default_queue_type: "classic" }) });
  await management(`/permissions/${encoded}/guest`, {
    method: "PUT",
    body: JSON.stringify({ configure: ".*", write: ".*", read: ".*" }),
  });
  return {
    name,
    url: `amqp://guest:guest@127.0.0.1:5672/${encoded}`,
    delete: async () => {
      await management(`/vhosts/${encoded}`, { method: "DELETE" });
    },
  };
}

/** Ready (not yet delivered) and unacknowledged message counts of a queue. */
export async function queueCounts(vhost: string, queue: string): Promise<{ ready: number; unacked: number }> {
  const info = (await management(`/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`)) as
    | { messages_ready?: number; messages_unacknowledged?: number }
    | undefined;
  return { ready: info?.messages_ready ?? 0, unacked: info?.messages_unacknowledged ?? 0 };
}

/** Takes up to `count` messages off a queue (acking them) and returns them with headers. */
export async function takeMessages(
  vhost: string,
  queue: string,
  count: number,
): Promise<Array<{ payload: string; properties: { headers?: Record<string, unknown>; content_type?: string; message_id?: string } }>> {
  return (await management(`/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}/get`, {
    method: "POST",
    body: JSON.stringify({ count, ackmode: "ack_requeue_false", encoding: "auto" }),
  })) as never;
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes; returns that value. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms (last: ${String(last)})`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
