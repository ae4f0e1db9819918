import type { Readiness, TlsMaterial } from "@switchyard/platform";
import type { Logger } from "pino";
import type { HandlerMetrics } from "../metrics.ts";
import type { HandleWork } from "../work.ts";
import { ReferenceAmqpConsumer } from "./amqplib.ts";
import { ReferenceGrpcServer } from "./grpc-js.ts";
import { ReferenceHttpServer } from "./http-json.ts";

/** What {@link ReferenceEndpoints} needs: the handler's settings and its one handleWork. */
export interface ReferenceEndpointsOptions {
  grpcPort: number | undefined;
  httpPort: number | undefined;
  amqp: boolean;
  amqpUrl: string;
  amqpTls: TlsMaterial | undefined;
  prefetch: number;
  deliveryLimit: number;
  maxPayloadBytes: number;
  readMaxBytes: number;
  closeTimeoutMs: number;
  handleWork: HandleWork;
  metrics: HandlerMetrics;
  readiness: Readiness;
  logger: Logger;
}

/**
 * The reference endpoints that are switched on, as one unit the handler listens, starts
 * and closes beside its own transports. With none on, every method does nothing.
 */
export class ReferenceEndpoints {
  readonly #options: ReferenceEndpointsOptions;
  readonly #grpc: ReferenceGrpcServer | undefined;
  readonly #http: ReferenceHttpServer | undefined;
  readonly #amqp: ReferenceAmqpConsumer | undefined;
  /** Bound ports once {@link listen} resolved; undefined for an endpoint that is off. */
  grpcPort: number | undefined;
  httpPort: number | undefined;

  constructor(options: ReferenceEndpointsOptions) {
    this.#options = options;
    const { handleWork, readMaxBytes } = options;
    if (options.grpcPort !== undefined) this.#grpc = new ReferenceGrpcServer({ handleWork, readMaxBytes });
    if (options.httpPort !== undefined) this.#http = new ReferenceHttpServer({ handleWork, readMaxBytes });
    if (options.amqp) {
      const { ca, cert, key } = options.amqpTls ?? {};
      this.#amqp = new ReferenceAmqpConsumer({
        url: options.amqpUrl,
        prefetch: options.prefetch,
        deliveryLimit: options.deliveryLimit,
        maxPayloadBytes: options.maxPayloadBytes,
        socketOptions: { ...(ca && { ca }), ...(cert && key && { cert, key }) },
        handleWork,
        metrics: options.metrics,
        readiness: options.readiness,
        logger: options.logger.child({ transport: "amqplib" }),
        closeTimeoutMs: options.closeTimeoutMs,
      });
    }
  }

  /** Opens the reference listeners that are on, on `host`. */
  async listen(host: string): Promise<void> {
    const { grpcPort, httpPort, logger } = this.#options;
    if (this.#grpc) this.grpcPort = await this.#grpc.listen(host, grpcPort!);
    if (this.#http) this.httpPort = await this.#http.listen(host, httpPort!);
    if (this.#grpc || this.#http) logger.info({ grpcJsPort: this.grpcPort, httpJsonPort: this.httpPort }, "reference endpoints listening");
  }

  /** Starts the reference consumer, when on; it connects in the background. */
  start(): void {
    this.#amqp?.start();
  }

  /** Stops consuming the reference queue and lets in-flight deliveries settle. */
  async stopConsuming(): Promise<void> {
    await this.#amqp?.stopConsuming();
  }

  /** Closes the reference listeners, letting in-flight calls finish within the close bound. */
  async closeListeners(): Promise<void> {
    const { closeTimeoutMs } = this.#options;
    await Promise.all([this.#grpc?.close(closeTimeoutMs), this.#http?.close(closeTimeoutMs)]);
  }

  /** Closes the reference consumer's connection. */
  async close(): Promise<void> {
    await this.#amqp?.close();
  }
}
