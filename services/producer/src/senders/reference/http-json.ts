import { create, fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { HandleRequestSchema, HandleResponseSchema, type Work } from "@switchyard/contracts";
import { isOutcome, type Outcome, type Sender, type SendResult } from "@switchyard/measurement";
import { HANDLE_PATH } from "@switchyard/platform";

/**
 * The plain-HTTP reference sender (`http_json`): Node's built-in `fetch` (undici, with its
 * own keep-alive pool) posting `{"work": …}` as protobuf JSON to the handler's node:http
 * endpoint and decoding the `{"receipt": …}` it answers, with a timeout on every call.
 * Failures read the Connect-shaped `code` the endpoint answers; no answer at all is
 * `unavailable`, no answer in time `deadline_exceeded`. Cleartext only.
 */
export class HttpJsonSender implements Sender {
  readonly transport = "http_json" as const;
  readonly #url: string;

  /** `baseUrl` is `http://host:port` of the handler's REFERENCE_HTTP_PORT. */
  constructor(baseUrl: string) {
    this.#url = new URL(HANDLE_PATH, baseUrl).toString();
  }

  async send(work: Work, timeoutMs: number): Promise<SendResult> {
    const body = toJsonString(HandleRequestSchema, create(HandleRequestSchema, { work }));
    const bytes = Buffer.byteLength(body);
    try {
      const response = await fetch(this.#url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      if (response.ok) {
        fromJsonString(HandleResponseSchema, text, { ignoreUnknownFields: true });
        return { outcome: "ok", bytes };
      }
      return { outcome: errorOutcome(text), bytes };
    } catch (error) {
      const name = error instanceof Error ? error.name : "";
      return { outcome: name === "TimeoutError" || name === "AbortError" ? "deadline_exceeded" : "unavailable", bytes };
    }
  }

  async close(): Promise<void> {
    // fetch's pool is the process's own; idle connections close on their own timeout.
  }
}

/** The outcome a failed answer names (`{"code": "invalid_argument", …}`), else `unknown`. */
function errorOutcome(text: string): Outcome {
  try {
    const code: unknown = (JSON.parse(text) as { code?: unknown }).code;
    return typeof code === "string" && isOutcome(code) ? code : "unknown";
  } catch {
    return "unknown";
  }
}
