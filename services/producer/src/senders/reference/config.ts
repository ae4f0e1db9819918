import { z } from "zod";

/** A comma-separated list of http:// URLs; empty by default (the reference is off). */
const httpUrls = () =>
  z
    .string()
    .default("")
    .transform((value) => value.split(",").map((entry) => entry.trim()).filter((entry) => entry !== ""))
    .refine((urls) => urls.every((entry) => URL.canParse(entry) && new URL(entry).protocol === "http:"), {
      message: "must be comma-separated http:// URLs (the reference endpoints serve cleartext only)",
    });

/**
 * The producer's reference senders (`compare --reference`), each off unless set; a run
 * may ask for a reference transport only when its sender is on. Spread into the
 * producer's environment schema.
 */
export const referenceSenderEnv = {
  /** Every handler's REFERENCE_GRPC_PORT as http://host:port, comma-separated: the `grpc_js` sender. Empty: off. */
  REFERENCE_GRPC_URLS: httpUrls(),
  /** Every handler's REFERENCE_HTTP_PORT as http://host:port, comma-separated: the `http_json` sender. Empty: off. */
  REFERENCE_HTTP_URLS: httpUrls(),
  /** `on`: the `amqplib` sender, publishing to the reference queue the handlers' REFERENCE_AMQP consumes. */
  REFERENCE_AMQP: z.enum(["off", "on"], { error: "must be on or off" }).default("off"),
};
