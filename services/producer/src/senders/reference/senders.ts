import type { ReferenceTransport, Sender } from "@switchyard/measurement";
import type { TlsMaterial } from "@switchyard/platform";
import type { Logger } from "pino";
import { AmqplibSender } from "./amqplib.ts";
import { GrpcJsSender } from "./grpc-js.ts";
import { HttpJsonSender } from "./http-json.ts";

/** What {@link referenceSenders} needs from the producer's configuration. */
export interface ReferenceSenderSettings {
  REFERENCE_GRPC_URLS: string[];
  REFERENCE_HTTP_URLS: string[];
  REFERENCE_AMQP: "off" | "on";
  AMQP_URL: string;
  AMQP_CONFIRM_WINDOW: number;
  AMQP_DELIVERY_LIMIT: number;
}

/**
 * The reference senders that are switched on, not yet instrumented. `spread` places one
 * RPC sender over several handler URLs the way the library senders are spread (round
 * robin or pinned), so both rows of a pair meet the same handlers.
 */
export function referenceSenders(
  config: ReferenceSenderSettings,
  spread: (transport: ReferenceTransport, urls: string[], connect: (url: string) => Sender) => Sender,
  amqpTls: TlsMaterial | undefined,
  logger: Logger,
): Partial<Record<ReferenceTransport, Sender>> {
  const senders: Partial<Record<ReferenceTransport, Sender>> = {};
  if (config.REFERENCE_GRPC_URLS.length > 0) senders.grpc_js = spread("grpc_js", config.REFERENCE_GRPC_URLS, (url) => new GrpcJsSender(url));
  if (config.REFERENCE_HTTP_URLS.length > 0) senders.http_json = spread("http_json", config.REFERENCE_HTTP_URLS, (url) => new HttpJsonSender(url));
  if (config.REFERENCE_AMQP === "on") {
    const { ca, cert, key } = amqpTls ?? {};
    senders.amqplib = new AmqplibSender({
      url: config.AMQP_URL,
      window: config.AMQP_CONFIRM_WINDOW,
      deliveryLimit: config.AMQP_DELIVERY_LIMIT,
      socketOptions: { ...(ca && { ca }), ...(cert && key && { cert, key }) },
      logger: logger.child({ transport: "amqplib" }),
    });
  }
  return senders;
}
