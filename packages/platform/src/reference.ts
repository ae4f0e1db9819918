// What the handler's reference endpoints and the producer's reference senders share:
// the gRPC method as grpc-js wants it, the plain HTTP route, and the reference queue.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { HandleRequestSchema, HandleResponseSchema, HandlerService, type HandleRequest, type HandleResponse } from "@switchyard/contracts";
import { rascalConfig, TOPOLOGY } from "./topology.ts";

/** `/switchyard.v1.HandlerService/Handle`: the one path every RPC reference uses, as the services do. */
export const HANDLE_PATH = `/${HandlerService.typeName}/${HandlerService.method.handle.name}`;

/** A Buffer over the same memory, so grpc-js gets bytes without a copy. */
const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * HandlerService.Handle as a grpc-js method definition (the shape of grpc-js's
 * `MethodDefinition`), serialised with @bufbuild/protobuf and the generated schemas:
 * the same codec as the services, and no proto-loader reading .proto files at run time.
 */
export const REFERENCE_HANDLE_METHOD = {
  path: HANDLE_PATH,
  requestStream: false,
  responseStream: false,
  requestSerialize: (request: HandleRequest) => asBuffer(toBinary(HandleRequestSchema, request)),
  requestDeserialize: (bytes: Buffer) => fromBinary(HandleRequestSchema, bytes),
  responseSerialize: (response: HandleResponse) => asBuffer(toBinary(HandleResponseSchema, response)),
  responseDeserialize: (bytes: Buffer) => fromBinary(HandleResponseSchema, bytes),
} as const;

/**
 * The reference AMQP topology: its own exchange and quorum queue, declared with the
 * work queue's arguments (delivery limit, at-least-once dead-lettering, reject-publish
 * overflow) and its own dead-letter exchange and queue, so the broker does the same work
 * for raw amqplib as for Rascal without the two mixing.
 */
export const REFERENCE_TOPOLOGY = {
  exchange: "switchyard.reference",
  queue: "switchyard.reference",
  routingKey: TOPOLOGY.routingKey,
  deadExchange: "switchyard.reference.dead",
  deadQueue: "switchyard.reference.dead",
} as const;

/** What declaring needs of an amqplib channel (a plain or a confirm channel). */
export interface DeclaringChannel {
  assertExchange(exchange: string, type: string, options: { durable: boolean }): Promise<unknown>;
  assertQueue(queue: string, options: { durable: boolean; arguments: Record<string, unknown> }): Promise<unknown>;
  bindQueue(queue: string, exchange: string, pattern: string): Promise<unknown>;
}

/**
 * Declares the reference topology on `channel`, idempotently, by whichever side connects
 * first. The queue's arguments are the work queue's, taken from the one rascalConfig,
 * with the dead-letter exchange replaced by the reference one.
 */
export async function declareReferenceTopology(channel: DeclaringChannel, url: string, deliveryLimit: number): Promise<void> {
  const vhost = Object.values(rascalConfig({ url, deliveryLimit }).vhosts)[0]!;
  const work = vhost.queues[TOPOLOGY.workQueue].options;
  const dead = vhost.queues[TOPOLOGY.deadQueue].options;
  const r = REFERENCE_TOPOLOGY;
  await channel.assertExchange(r.exchange, "direct", { durable: true });
  await channel.assertExchange(r.deadExchange, "fanout", { durable: true });
  await channel.assertQueue(r.queue, { ...work, arguments: { ...work.arguments, "x-dead-letter-exchange": r.deadExchange } });
  await channel.assertQueue(r.deadQueue, { ...dead });
  await channel.bindQueue(r.queue, r.exchange, r.routingKey);
  await channel.bindQueue(r.deadQueue, r.deadExchange, "");
}
