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

/**
 * Room an AMQP body gets beyond its payload: the id (at most 256 characters, up to 12
 * bytes each as JSON escapes), producer id, sequence, timestamp, attributes and the JSON
 * syntax around them. Generous on purpose: it only has to bound memory, not fit tightly.
 */
export const ENVELOPE_ALLOWANCE_BYTES = 64 * 1024;

/**
 * The largest AMQP body the handler decodes: a `maxPayloadBytes` payload as protobuf JSON
 * (base64, 4 bytes per 3), the larger of the two encodings, plus
 * {@link ENVELOPE_ALLOWANCE_BYTES}. Checked before decoding, so a huge body costs its
 * bytes once, not again as a decoded copy.
 */
export function maxBodyBytes(maxPayloadBytes: number): number {
  return Math.ceil(maxPayloadBytes / 3) * 4 + ENVELOPE_ALLOWANCE_BYTES;
}

/** A body over {@link maxBodyBytes}; never decoded. */
export class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
}

/**
 * Throws {@link BodyTooLargeError} when `body` is over the limit for `maxPayloadBytes`.
 * Call it before {@link decodeWorkBody}.
 */
export function checkBodySize(body: Uint8Array, maxPayloadBytes: number): void {
  const limit = maxBodyBytes(maxPayloadBytes);
  if (body.byteLength > limit) {
    throw new BodyTooLargeError(`body is ${body.byteLength} bytes, over the limit of ${limit} bytes for MAX_PAYLOAD_BYTES=${maxPayloadBytes}`);
  }
}

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
  const encoding = encodingOf(contentType);
  if (encoding === "json") return fromJsonString(WorkSchema, UTF8.decode(body));
  if (encoding === "binary") return fromBinary(WorkSchema, body);
  throw new Error(`unsupported content_type ${JSON.stringify(contentType)}; send application/x-protobuf or application/json`);
}

// A publisher sends one content type for all its messages: the last one's answer is
// kept, so a message does not split, trim and lowercase the same string again. One
// entry, so whatever a publisher sends, it holds no memory.
let lastContentType: string | undefined;
let lastEncoding: "json" | "binary" | undefined;

/** How a body of `contentType` is decoded; undefined for a type the handler does not take. */
function encodingOf(contentType: string | undefined): "json" | "binary" | undefined {
  if (contentType === lastContentType && contentType !== undefined) return lastEncoding;
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  const encoding = JSON_TYPES.has(type) ? "json" : type === "" || BINARY_TYPES.has(type) ? "binary" : undefined;
  lastContentType = contentType;
  lastEncoding = encoding;
  return encoding;
}
