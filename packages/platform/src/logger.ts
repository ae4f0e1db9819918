import { pino, stdSerializers, type Logger } from "pino";
import { redactUrl } from "./config.ts";

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** The service name, added to every line as `service`. */
  service: string;
  /** pino level name. */
  level: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to read them back. */
  destination?: pino.DestinationStream;
}

/**
 * Creates the JSON logger both services use. Secrets are removed twice over: known
 * secret-bearing keys are censored by path, and every error message and URL-shaped
 * string field has its userinfo password masked, because client libraries quote
 * connection URLs in their errors.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          "password",
          "*.password",
          "AMQP_URL",
          "*.AMQP_URL",
          "amqpUrl",
          "*.amqpUrl",
          "connection.url",
          "*.connection.url",
          'req.headers.authorization',
        ],
        censor: "[redacted]",
      },
      serializers: {
        err: (error: Error) => {
          const serialized = stdSerializers.err(error);
          serialized.message = redactUrl(serialized.message);
          if (serialized.stack) serialized.stack = redactUrl(serialized.stack);
          return serialized;
        },
      },
      hooks: {
        // Messages are formatted strings that may quote a URL; mask before writing.
        logMethod(args, method) {
          const masked = args.map((arg) => (typeof arg === "string" ? redactUrl(arg) : arg));
          method.apply(this, masked as Parameters<typeof method>);
        },
      },
    },
    options.destination,
  );
}
