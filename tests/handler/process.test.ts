import { describe, expect, it } from "vitest";
import { runToExit, startService } from "../support/process.ts";

describe("handler process start-up", () => {
  it.each([
    ["HTTP_PORT", "http", /^invalid configuration: HTTP_PORT must be a TCP port number 0-65535 \(got "http"\)$/],
    ["AMQP_URL", "localhost:5672", /^invalid configuration: AMQP_URL must be a URL of the form amqp:\/\/host:port or amqps:\/\/host:port/],
    ["SIMULATED_DELAY_MS", "-1", /^invalid configuration: SIMULATED_DELAY_MS must be a whole number from 0 to 60000/],
  ])("stops with exit 1 and one line naming %s when it is %s", async (name, value, message) => {
    const { code, stderr, stdout } = await runToExit("handler", { [name]: value });
    expect(code).toBe(1);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr.trim()).toMatch(message);
    expect(stdout).toBe("");
  });

  it("never logs the AMQP password, even while the broker refuses it", async () => {
    const secret = "pa55-w0rd-that-must-not-leak";
    // The local broker has no such user, so every attempt fails and is logged with its URL.
    const handler = await startService("handler", {
      AMQP_URL: `amqp://switchyard:${secret}@127.0.0.1:5672/`,
      LOG_LEVEL: "debug",
    });
    // Let a few connection attempts fail and be logged.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await handler.stop()).toBe(0);
    const output = handler.lines.join("\n");
    expect(output).toMatch(/broker unavailable/);
    expect(output).toContain("amqp://switchyard:***@127.0.0.1:5672");
    expect(output).not.toContain(secret);
  }, 20_000);
});
