import { defaultManagementUrl } from "@switchyard/measurement";

/**
 * The broker's product and version (e.g. `RabbitMQ 3.10.8, Erlang 25.2.3`) from its
 * management API's overview, with the credentials of `amqpUrl`; undefined when the
 * management API does not answer within `timeoutMs`. Only for the report's header:
 * nothing depends on it.
 */
export async function brokerVersion(amqpUrl: string, managementUrl = defaultManagementUrl(amqpUrl), timeoutMs = 3_000): Promise<string | undefined> {
  const amqp = new URL(amqpUrl);
  const credentials = `${decodeURIComponent(amqp.username || "guest")}:${decodeURIComponent(amqp.password || "guest")}`;
  try {
    const response = await fetch(`${managementUrl.replace(/\/$/, "")}/api/overview`, {
      headers: { authorization: `Basic ${Buffer.from(credentials).toString("base64")}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) return undefined;
    const overview = (await response.json()) as { product_name?: string; product_version?: string; rabbitmq_version?: string; erlang_version?: string };
    const version = overview.product_version ?? overview.rabbitmq_version;
    if (version === undefined) return undefined;
    return `${overview.product_name ?? "RabbitMQ"} ${version}${overview.erlang_version ? `, Erlang ${overview.erlang_version}` : ""}`;
  } catch {
    return undefined;
  }
}
