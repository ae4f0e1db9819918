import { ConfigError } from "@switchyard/platform";
import { describe, expect, it } from "vitest";
import { handlerEnvSchema, loadHandlerConfig } from "../src/config.ts";

describe("loadHandlerConfig", () => {
  it("gives the Contract defaults for an empty environment", () => {
    const config = loadHandlerConfig({});
    expect(config).toMatchObject({ HTTP_PORT: 8080, H2C_PORT: 8081, BIND_HOST: "0.0.0.0", LOG_LEVEL: "info" });
    expect(config.READ_MAX_BYTES).toBeGreaterThan(config.MAX_PAYLOAD_BYTES);
  });

  it("treats empty strings as unset", () => {
    expect(loadHandlerConfig({ HTTP_PORT: "" }).HTTP_PORT).toBe(8080);
  });

  it.each([
    ["HTTP_PORT", "eighty", /HTTP_PORT must be a TCP port number 0-65535 \(got "eighty"\)/],
    ["H2C_PORT", "70000", /H2C_PORT must be a TCP port number/],
    ["AMQP_URL", "http://broker:5672", /AMQP_URL must be a URL of the form amqp:\/\/host:port or amqps:\/\/host:port/],
    ["LOG_LEVEL", "loud", /LOG_LEVEL must be one of/],
    ["AMQP_PREFETCH", "0", /AMQP_PREFETCH must be a whole number from 1 to 65535/],
    ["SIMULATED_FAILURE_RATIO", "2", /SIMULATED_FAILURE_RATIO must be a number from 0 to 1/],
    ["HANDLER_ID", "has space", /HANDLER_ID must be 1-128 letters/],
  ])("rejects %s=%s with one line naming it", (name, value, message) => {
    let error: unknown;
    try {
      loadHandlerConfig({ [name]: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(name);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain("\n");
  });

  it("never echoes a password from a rejected URL", () => {
    expect(() => loadHandlerConfig({ AMQP_URL: "http://user:s3cret@host" })).toThrow(/user:\*\*\*@host/);
    expect(() => loadHandlerConfig({ AMQP_URL: "http://user:s3cret@host" })).not.toThrow(/s3cret/);
  });

  it("requires the body limit to exceed the payload limit", () => {
    expect(() => loadHandlerConfig({ MAX_PAYLOAD_BYTES: "4096", READ_MAX_BYTES: "4096" })).toThrow(
      /READ_MAX_BYTES must be greater than MAX_PAYLOAD_BYTES=4096/,
    );
  });

  it("documents every variable it reads in one schema", () => {
    expect(Object.keys(handlerEnvSchema.shape)).toContain("AMQP_URL");
  });
});
