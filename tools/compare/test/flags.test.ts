import { resolveSpec } from "@switchyard/measurement";
import { describe, expect, it } from "vitest";
import { DEFAULT_PAYLOADS, parseDuration, parseFlags, parseSize, UsageError } from "../src/flags.ts";

const context = { maxPayloadBytes: 1024 * 1024, sendTimeoutMs: 5_000 };

function usage(argv: string[]): string {
  try {
    parseFlags(argv);
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error(`accepted ${argv.join(" ")}`);
}

describe("parseFlags", () => {
  it("defaults to the comparison matrix: every transport, small and 16 KiB", () => {
    const options = parseFlags([]);
    expect(options.producerUrl).toBeUndefined();
    expect(resolveSpec(options.spec, context)).toMatchObject({
      transports: ["grpc", "connect", "amqp"],
      payloadBytes: DEFAULT_PAYLOADS,
      load: { mode: "closed", concurrency: 32 },
      end: { kind: "duration", ms: 5_000 },
      warmupMs: 1_000,
    });
  });

  it("reads every flag", () => {
    const options = parseFlags([
      "--producer-url", "http://127.0.0.1:8080",
      "--transports", "amqp,grpc",
      "--payloads", "0,1KiB,1MiB",
      "--rate", "500",
      "--messages", "2000",
      "--warmup", "0",
      "--send-timeout", "1500ms",
      "--out", "/tmp/x",
      "--json",
    ]);
    expect(options).toMatchObject({ producerUrl: "http://127.0.0.1:8080", out: "/tmp/x", json: true });
    expect(resolveSpec(options.spec, context)).toEqual({
      transports: ["amqp", "grpc"],
      payloadBytes: [0, 1024, 1024 * 1024],
      load: { mode: "open", rate: 500 },
      end: { kind: "messages", count: 2000 },
      warmupMs: 0,
      sendTimeoutMs: 1500,
    });
  });

  it("--quick shortens phases", () => {
    expect(resolveSpec(parseFlags(["--quick"]).spec, context)).toMatchObject({ end: { kind: "duration", ms: 1000 }, warmupMs: 250 });
  });

  it.each([
    [["--transports", "grpc,http"], /^--transports has unknown transport "http"/],
    [["--rate", "0"], /^--rate must be a number of messages\/s greater than 0/],
    [["--rate", "-3"], /^--rate must be a number of messages\/s greater than 0/],
    [["--rate", "fast"], /^--rate must be a number/],
    [["--payloads", "2MiB"], /^--payloads must be at most the handler's limit of 1048576 bytes/],
    [["--payloads", "big"], /^--payloads sizes must be whole numbers of bytes/],
    [["--duration", "0"], /^--duration must be greater than 0/],
    [["--duration", "soon"], /^--duration must be a duration such as 5s/],
    [["--concurrency", "0"], /^--concurrency must be a whole number from 1/],
    [["--messages", "0"], /^--messages must be a whole number from 1/],
    [["--rate", "5", "--concurrency", "5"], /^use either --rate .* or --concurrency/],
    [["--duration", "5s", "--messages", "5"], /^use either --duration or --messages/],
    [["--producer-url", "ftp://x"], /^--producer-url must be an http/],
    [["--producer-url", "http://x", "--amqp-url", "amqp://y"], /^--amqp-url only applies/],
    [["--bogus"], /Unknown option '--bogus'; see --help$/],
    [["stray"], /; see --help$/],
  ])("refuses %j with one line naming the flag", (argv, message) => {
    const text = usage(argv as string[]);
    expect(text).toMatch(message);
    expect(text).not.toContain("\n");
  });

  it("leaves the payload limit to a remote producer", () => {
    expect(() => parseFlags(["--producer-url", "http://x:1", "--payloads", "2MiB"])).not.toThrow();
  });
});

describe("sizes and durations", () => {
  it.each([
    ["64", 64],
    ["16KiB", 16384],
    ["16k", 16384],
    ["1MiB", 1048576],
    ["0", 0],
  ])("%s is %d bytes", (text, bytes) => expect(parseSize(text)).toBe(bytes));

  it.each([
    ["5s", 5000],
    ["1500ms", 1500],
    ["0.25s", 250],
    ["1m", 60000],
    ["2", 2000],
  ])("%s is %d ms", (text, ms) => expect(parseDuration("--duration", text)).toBe(ms));

  it("reads --handlers and --rpc-balancing for local runs only", () => {
    expect(parseFlags([])).toMatchObject({ handlers: 1, rpcBalancing: "round_robin" });
    expect(parseFlags(["--handlers", "3", "--rpc-balancing", "off"])).toMatchObject({ handlers: 3, rpcBalancing: "off" });
    expect(usage(["--handlers", "0"])).toBe('--handlers must be between 1 and 16 (got "0")');
    expect(usage(["--rpc-balancing", "random"])).toBe('--rpc-balancing must be round_robin or off (got "random")');
    expect(usage(["--producer-url", "http://127.0.0.1:8080", "--handlers", "2"])).toMatch(/^--handlers only applies when compare starts the services/);
  });
});

