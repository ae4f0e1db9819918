import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../src/logger.ts";

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: createLogger({ service: "test", level: "info", destination }) };
}

describe("createLogger", () => {
  it("masks passwords in messages, errors and known secret fields", () => {
    const { lines, logger } = capture();
    logger.info("connecting to amqp://app:hunter2@broker:5672/");
    logger.error({ err: new Error("Failed to connect to: amqp://app:hunter2@broker") }, "broker down");
    logger.info({ AMQP_URL: "amqp://app:hunter2@broker", connection: { url: "amqp://app:hunter2@b" } }, "config");
    const output = lines.join("");
    expect(output).not.toContain("hunter2");
    expect(output).toContain("amqp://app:***@broker:5672/");
    expect(output).toContain("Failed to connect to: amqp://app:***@broker");
    expect(output).toContain('"AMQP_URL":"[redacted]"');
  });

  it("writes one JSON object per line with the service name", () => {
    const { lines, logger } = capture();
    logger.info({ transport: "grpc" }, "hello");
    expect(JSON.parse(lines[0]!)).toMatchObject({ service: "test", transport: "grpc", msg: "hello", level: 30 });
  });
});
