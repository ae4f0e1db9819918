// A gRPC client cancels a call it has waited on (RST_STREAM CANCEL on its deadline); that
// is not HTTP/2 rapid reset and must not cost the client its session. The hard case is a
// handler that lags behind its deadlines: while its event loop is busy the client's
// cancels and its next calls pile up unread, and the server then reads streams together
// with their cancels, as a rapid-reset attack would send them. The handler runs as a
// process of its own; the client is a plain node:http2 session, so the test sees that
// very session survive (a gRPC library would reconnect silently).
import { create, toBinary } from "@bufbuild/protobuf";
import { connect, constants, type ClientHttp2Session } from "node:http2";
import { HandleRequestSchema, HandlerService } from "@switchyard/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startService, type ServiceProcess } from "../support/process.ts";
import { closedPort } from "../producer/support.ts";

/** Calls cancelled in all: past the guard's burst (100), under nghttp2's reset burst (500). */
const CANCELLED_CALLS = 400;
/** Calls kept open at once; each one the handler starts blocks its event loop for HANDLER_CPU_MS. */
const CONCURRENT_CALLS = 10;
/** The client's deadline, shorter than the handler's work on a call. */
const DEADLINE_MS = 50;
/** CPU the handler burns per call, blocking its event loop (SIMULATED_CPU_MS). */
const HANDLER_CPU_MS = 100;
/** Wall-clock bound on the cancelling phase. */
const CANCEL_PHASE_MS = 60_000;

const HANDLE_PATH = `/${HandlerService.typeName}/${HandlerService.method.handle.name}`;

describe("h2c listener and a client that cancels calls on its deadline", () => {
  let handler: ServiceProcess;

  beforeAll(async () => {
    // No broker needed: the RPC transports serve without one. The 1 ms delay comes first,
    // so a call cancelled before its handler ran burns no CPU.
    handler = await startService("handler", {
      AMQP_URL: `amqp://guest:guest@127.0.0.1:${await closedPort()}/`,
      SHUTDOWN_GRACE_MS: "3000",
      SIMULATED_DELAY_MS: "1",
      SIMULATED_CPU_MS: String(HANDLER_CPU_MS),
    });
  });
  afterAll(async () => {
    await handler?.stop();
  });

  it("keeps the session of a client whose calls all pass their deadline while the handler lags", async () => {
    const session = connect(handler.h2cUrl);
    let sessionEnded = "";
    session.on("goaway", (code) => (sessionEnded ||= `GOAWAY ${code}`));
    session.on("close", () => (sessionEnded ||= "closed"));
    session.on("error", (error) => (sessionEnded ||= `error ${error.message}`));
    try {
      const outcomes = { cancelled: 0, answered: 0, failed: 0 };
      let started = 0;
      const phaseEnds = Date.now() + CANCEL_PHASE_MS;
      const caller = async () => {
        while (started < CANCELLED_CALLS && !sessionEnded && Date.now() < phaseEnds) {
          started += 1;
          outcomes[await call(session, `cancel-${started}`, DEADLINE_MS)] += 1;
        }
      };
      await Promise.all(Array.from({ length: CONCURRENT_CALLS }, caller));
      const cut = handler.lines.filter((line) => line.includes("resets streams too fast")).length;
      console.info(
        `cancels: ${started} calls with a ${DEADLINE_MS} ms deadline on a handler spending ${HANDLER_CPU_MS} ms of CPU each: ` +
          `${outcomes.cancelled} cancelled, ${outcomes.answered} answered, ${outcomes.failed} failed; ` +
          `sessions closed by the reset guard: ${cut}; session ${sessionEnded || "open"}`,
      );
      expect(sessionEnded).toBe("");
      expect(cut).toBe(0);
      expect(outcomes.cancelled).toBeGreaterThan(100);
      expect(outcomes.failed).toBe(0);
      // Later calls on the same session are answered.
      for (let i = 0; i < 3; i++) expect(await call(session, `after-${i}`, 30_000)).toBe("answered");
      expect(sessionEnded).toBe("");
    } finally {
      session.destroy();
    }
  }, 120_000);
});

/**
 * One unary gRPC call on `session`, cancelled with RST_STREAM(CANCEL) after `deadlineMs`
 * as a gRPC client does on its deadline. Resolves with how it ended: "answered" (grpc-status
 * 0), "cancelled" by the deadline, or "failed" (any other status, or the stream closed by
 * the server).
 */
function call(session: ClientHttp2Session, id: string, deadlineMs: number): Promise<"answered" | "cancelled" | "failed"> {
  const message = toBinary(HandleRequestSchema, create(HandleRequestSchema, { work: { id } }));
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return new Promise((resolve) => {
    const stream = session.request({
      ":method": "POST",
      ":path": HANDLE_PATH,
      "content-type": "application/grpc+proto",
      te: "trailers",
    });
    let grpcStatus: string | undefined;
    let cancelled = false;
    stream.on("response", (headers) => (grpcStatus ??= headers["grpc-status"] as string | undefined));
    stream.on("trailers", (trailers) => (grpcStatus = trailers["grpc-status"] as string | undefined));
    stream.on("data", () => {});
    stream.on("error", () => {});
    const timer = setTimeout(() => {
      cancelled = true;
      stream.close(constants.NGHTTP2_CANCEL);
    }, deadlineMs);
    stream.on("close", () => {
      clearTimeout(timer);
      resolve(cancelled ? "cancelled" : grpcStatus === "0" ? "answered" : "failed");
    });
    stream.end(frame);
  });
}
