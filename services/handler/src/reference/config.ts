import { ConfigError, optionalPort } from "@switchyard/platform";
import { z } from "zod";

/**
 * The handler's reference endpoints (`compare --reference`), each off unless set: the
 * same handleWork behind the plainest server of each protocol, so a comparison can tell
 * the protocol's cost from the library's. Spread into the handler's environment schema.
 */
export const referenceEnv = {
  /** A @grpc/grpc-js server for HandlerService.Handle (transport `grpc_js`), cleartext. Unset: none. */
  REFERENCE_GRPC_PORT: optionalPort(),
  /** A bare node:http route taking protobuf JSON (transport `http_json`), cleartext. Unset: none. */
  REFERENCE_HTTP_PORT: optionalPort(),
  /** `on`: a raw amqplib consumer on the reference queue (transport `amqplib`). */
  REFERENCE_AMQP: z.enum(["off", "on"], { error: "must be on or off" }).default("off"),
};

/** The reference settings of a validated configuration. */
export interface ReferenceConfig {
  REFERENCE_GRPC_PORT?: number | undefined;
  REFERENCE_HTTP_PORT?: number | undefined;
  REFERENCE_AMQP: "off" | "on";
  TLS_DIR: string;
}

/**
 * Checks what the schema cannot: the reference listeners serve cleartext only, so they
 * are refused beside TLS_DIR rather than opening a cleartext door into a TLS handler.
 *
 * @throws ConfigError naming the variable.
 */
export function checkReferenceConfig(config: ReferenceConfig): void {
  for (const variable of ["REFERENCE_GRPC_PORT", "REFERENCE_HTTP_PORT"] as const) {
    if (config[variable] !== undefined && config.TLS_DIR !== "") {
      throw new ConfigError(variable, `invalid configuration: ${variable} serves cleartext only and cannot be set with TLS_DIR (got ${config[variable]})`);
    }
  }
}
