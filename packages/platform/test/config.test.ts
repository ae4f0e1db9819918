import { describe, expect, it } from "vitest";
import { redactUrl } from "../src/config.ts";

describe("redactUrl", () => {
  it.each([
    ["amqp://user:secret@host:5672/vh", "amqp://user:***@host:5672/vh"],
    ["amqps://u:p%40ss@broker", "amqps://u:***@broker"],
    ["failed: amqp://a:b@h and http://c:d@e/x", "failed: amqp://a:***@h and http://c:***@e/x"],
    ["amqp://user@host", "amqp://user@host"],
    ["amqp://host:5672", "amqp://host:5672"],
    ["no url here", "no url here"],
  ])("%s → %s", (input, output) => {
    expect(redactUrl(input)).toBe(output);
  });
});
