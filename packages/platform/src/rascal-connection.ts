import type { Connection } from "amqplib/callback_api";
import type { BrokerAsPromised } from "rascal";

/** A connection Rascal opened from the service's broker configuration, in amqplib's callback API. */
export interface RascalConnection {
  connection: Connection;
  /** Resolves (never rejects) once the connection errors or closes, with the error if any. */
  closed: Promise<Error | undefined>;
  /** Closes the connection; resolves once closed, or at once when it already was. Never throws. */
  close(): Promise<void>;
}

/**
 * Opens a connection to `vhost` through Rascal, so the URL, TLS, heartbeat and client
 * properties come from the one broker configuration, for a consumer or publisher that
 * works on amqplib's channels directly. Rejects when the broker cannot be reached.
 */
export async function openRascalConnection(broker: BrokerAsPromised, vhost: string): Promise<RascalConnection> {
  // @types/rascal declares the promise API here; Rascal returns amqplib's callback API.
  const connection = (await broker.connect(vhost)) as unknown as Connection;
  const closed = new Promise<Error | undefined>((resolve) => {
    // Without an 'error' listener an amqplib error event would be thrown and end the process.
    connection.on("error", (error: Error) => resolve(error));
    connection.on("close", (error?: Error) => resolve(error));
  });
  const close = () =>
    new Promise<void>((resolve) => {
      try {
        connection.close(() => resolve());
      } catch {
        resolve(); // already closing or closed
      }
    });
  return { connection, closed, close };
}

/** Runs a Node-style callback operation (amqplib's callback API) as a promise; a synchronous throw rejects it too. */
export function callback<T = unknown>(operation: (done: (error: unknown, value?: T) => void) => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      operation((error, value) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(value as T)));
    } catch (error) {
      reject(error);
    }
  });
}
