import type { Channel, ConfirmChannel, Message } from "amqplib/callback_api";
import { callback, openRascalConnection, TOPOLOGY } from "@switchyard/platform";
import type { BrokerAsPromised } from "rascal";

/** One message as delivered on one channel. */
export interface Delivery {
  readonly message: Message;
  /**
   * Settles this delivery, on the channel that delivered it. The first call acts, later
   * ones do nothing; never throws. Resolves true when the settlement reached the broker,
   * false when the channel had already closed (the broker then requeues the message) or
   * the attempt failed (which also closes the session, so the consumer resubscribes).
   */
  settle(settlement: Settlement): Promise<boolean>;
}

/** How a delivery ends. */
export type Settlement =
  | { kind: "ack" }
  | { kind: "requeue" }
  | { kind: "dead-letter"; reason: string };

/** What {@link openConsumerSession} needs. */
export interface ConsumerSessionOptions {
  broker: BrokerAsPromised;
  /** The vhost name as Rascal's configuration spells it. */
  vhost: string;
  prefetch: number;
  /** Called for every delivery, before or after the session's promise resolves; must not throw (the session guards it anyway). */
  onDelivery: (delivery: Delivery) => void;
}

/**
 * One consumer connection: a channel consuming the work queue and a confirm channel for
 * dead letters, on a connection Rascal opens from the service's broker configuration.
 *
 * Why not a Rascal subscription: before handing a message over, Rascal's Subscription
 * (lib/amqp/Subscription.js, `_onMessage`) reads the `x-death` header as an array
 * (`immediateNack` calls `.find` on it unguarded), trusts a `rascal.recovery` header to
 * nack the message without a reason, and rewrites routing fields from `rascal.*`
 * headers. Any publisher can set those headers; a throw there closes the channel, every
 * unacknowledged neighbour is redelivered, and the same message does it again. No
 * configuration turns that path off, so the handler consumes with amqplib directly and
 * reads nothing from a message but its body, content type, message id and
 * `x-delivery-count` (defensively). Rascal still declares the topology and owns the
 * connection settings.
 */
export interface ConsumerSession {
  /** Resolves (never rejects) when the connection or either channel closes, or the broker cancels the consumer. */
  readonly closed: Promise<Error | undefined>;
  /** Stops new deliveries; in-flight ones can still be settled. Never throws. */
  cancel(): Promise<void>;
  /** Closes the connection; unsettled deliveries go back to the queue. Never throws. */
  close(): Promise<void>;
}

/**
 * Opens a {@link ConsumerSession} and starts consuming. Rejects if the broker cannot be
 * reached or refuses a step; the caller retries.
 */
export async function openConsumerSession(options: ConsumerSessionOptions): Promise<ConsumerSession> {
  const rascal = await openRascalConnection(options.broker, options.vhost);
  const { connection } = rascal;
  let open = true;
  let markClosed!: (error: Error | undefined) => void;
  const closed = new Promise<Error | undefined>((resolve) => {
    markClosed = (error) => {
      open = false;
      resolve(error);
    };
  });
  void rascal.closed.then(markClosed);
  const close = () => {
    markClosed(undefined);
    return rascal.close();
  };
  try {
    const consumer = await callback<Channel>((done) => connection.createChannel(done));
    const publisher = await callback<ConfirmChannel>((done) => connection.createConfirmChannel(done));
    for (const channel of [consumer, publisher]) {
      channel.on("error", (error: Error) => markClosed(error));
      channel.on("close", () => markClosed(new Error("channel closed")));
    }
    await callback((done) => consumer.prefetch(options.prefetch, false, done));
    const fail = (error: unknown) => {
      // A failed ack or nack means the channel is going away: close the session, so the
      // consumer subscribes again and the broker redelivers what was not settled.
      markClosed(error instanceof Error ? error : new Error(String(error)));
      void close();
    };
    const deliver = (message: Message): Delivery => {
      let settled = false;
      return {
        message,
        async settle(settlement) {
          if (settled) return false;
          settled = true;
          // A delivery tag only means something on the channel that delivered it; once
          // that is closed the broker has requeued the message, and it will come again.
          if (!open) return false;
          try {
            if (settlement.kind === "ack") consumer.ack(message);
            else if (settlement.kind === "requeue") consumer.nack(message, false, true);
            else await deadLetter(publisher, consumer, message, settlement.reason);
            return true;
          } catch (error) {
            fail(error);
            return false;
          }
        },
      };
    };
    const consumeOk = await callback<{ consumerTag: string }>((done) =>
      consumer.consume(
        TOPOLOGY.workQueue,
        (message) => {
          // A null message is the broker cancelling the consumer (queue deleted, say).
          if (message === null) return markClosed(new Error("consumer cancelled by the broker"));
          try {
            options.onDelivery(deliver(message));
          } catch {
            // onDelivery does not throw; if it ever did, the delivery stays unacked and
            // returns to the queue when this session closes — never a crashed process.
          }
        },
        { noAck: false },
        done,
      ),
    );

    return {
      closed,
      async cancel() {
        if (!open) return;
        await callback((done) => consumer.cancel(consumeOk.consumerTag, done)).catch(() => undefined);
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Publishes a copy of `message` to the dead-letter exchange with `reason` in its header
 * and, once the broker confirms it, acks the original. If the publish fails (refused,
 * too large, channel closed), the original is nacked without requeue so the queue's own
 * dead-lettering takes it (without the reason header: nothing else is possible then).
 *
 * The copy keeps the body and the identifying properties, not the original headers: they
 * may be anything a publisher sent (which is why the message may be here), and they
 * would count against the frame the reason must fit in.
 */
async function deadLetter(publisher: ConfirmChannel, consumer: Channel, message: Message, reason: string): Promise<void> {
  const { contentType, contentEncoding, messageId, correlationId, type, appId, timestamp } = message.properties;
  try {
    await callback((done) =>
      publisher.publish(
        TOPOLOGY.deadExchange,
        "",
        message.content,
        {
          persistent: true,
          contentType,
          contentEncoding,
          messageId,
          correlationId,
          type,
          appId,
          timestamp,
          headers: { [TOPOLOGY.reasonHeader]: reason.slice(0, 1024) },
        },
        done,
      ),
    );
  } catch {
    consumer.nack(message, false, false);
    return;
  }
  consumer.ack(message);
}
