import { fromBinary, fromJsonString } from "@bufbuild/protobuf";
import { WorkSchema, type Work } from "@switchyard/contracts";

/** Content types the handler decodes as protobuf JSON. */
const JSON_TYPES = new Set(["application/json", "application/protobuf+json"]);

/** Content types the handler decodes as binary protobuf; absent means binary too. */
const BINARY_TYPES = new Set([
  "application/x-protobuf",
  "application/protobuf",
  "application/vnd.google.protobuf",
  "application/octet-stream",
]);

/** Rejects invalid UTF-8 rather than decoding it to replacement characters. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes an AMQP body as a Work by its `content_type`: protobuf JSON or binary
 * protobuf, so any AMQP client can send work. Parameters such as `; charset=utf-8` are
 * ignored.
 *
 * @throws Error describing why the body is not a Work (unknown type, bad encoding).
 */
export function decodeWorkBody(body: Uint8Array, contentType: string | undefined): Work {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (JSON_TYPES.has(type)) {
    return fromJsonString(WorkSchema, UTF8.decode(body));
  }
  if (type === "" || BINARY_TYPES.has(type)) return fromBinary(WorkSchema, body);
  throw new Error(`unsupported content_type ${JSON.stringify(contentType)}; send application/x-protobuf or application/json`);
}
