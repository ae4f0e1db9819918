import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { createInterface } from "node:readline";

/** A command the runner sends a bench process, one JSON line on its stdin. */
export interface Command {
  cmd: string;
  [key: string]: unknown;
}

/** Answers one command; an unknown command should throw. */
export type CommandHandler = (command: Command) => Promise<unknown> | unknown;

/**
 * The child side of the runner's line protocol: prints `{"ready": info}` once, then
 * answers every JSON line on stdin with one JSON line on stdout, in order. `exit` (or
 * stdin closing, when the runner dies) calls `close` and ends the process. stdout is
 * the protocol's alone: anything else a bench process prints goes to stderr.
 * `profile:start` and `profile:stop` (with `path`) record a V8 CPU profile of exactly
 * the window between them, without start-up or warm-up.
 */
export function serveCommands(info: Record<string, unknown>, handle: CommandHandler, close: () => Promise<void> = async () => {}): void {
  let closing = false;
  const shutDown = async () => {
    if (closing) return;
    closing = true;
    try {
      await close();
    } finally {
      process.exit(0);
    }
  };
  let queue = Promise.resolve();
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    const command = JSON.parse(line) as Command;
    // One command at a time, so answers come back in the order asked.
    queue = queue.then(async () => {
      if (command.cmd === "exit") return shutDown();
      if (command.cmd === "profile:start" || command.cmd === "profile:stop") return profile(command);
      try {
        process.stdout.write(`${JSON.stringify({ ok: await handle(command) })}\n`);
      } catch (error) {
        process.stdout.write(`${JSON.stringify({ error: String((error as Error)?.stack ?? error) })}\n`);
      }
    });
  });
  lines.on("close", () => void shutDown());
  process.stdout.write(`${JSON.stringify({ ready: info })}\n`);
}

/** Reads a required string argument `--name=value` of this process. */
export function argument(name: string): string {
  const prefix = `--${name}=`;
  const found = process.argv.find((arg) => arg.startsWith(prefix));
  if (found === undefined) throw new Error(`missing ${prefix}…`);
  return found.slice(prefix.length);
}

let inspector: Session | undefined;

/** Starts or stops the V8 CPU profiler of this process and answers when done. */
async function profile(command: Command): Promise<void> {
  if (command.cmd === "profile:start") {
    inspector ??= new Session();
    inspector.connect();
    await inspector.post("Profiler.enable");
    // 100 µs between samples: enough detail for per-message costs of tens of µs.
    await inspector.post("Profiler.setSamplingInterval", { interval: 100 });
    await inspector.post("Profiler.start");
  } else {
    const { profile } = await inspector!.post("Profiler.stop");
    writeFileSync(String(command.path), JSON.stringify(profile));
    inspector!.disconnect();
  }
  process.stdout.write(`${JSON.stringify({ ok: {} })}\n`);
}
