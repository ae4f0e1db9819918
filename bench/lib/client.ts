import { argument, serveCommands } from "./child.ts";
import { closedLoop } from "./load.ts";

/** What the runner asks a client process to do: one closed-loop window. */
export interface RunCommand {
  seconds: number;
  concurrency: number;
  payloadBytes: number;
  deadlineMs: number;
}

/**
 * Serves a bench client process: for each `run` command, `prepare` builds a send
 * function for the payload size, and a closed loop drives it for the window. The
 * target's URL comes from `--url=`.
 */
export function serveClient(prepare: (url: string, run: RunCommand) => () => Promise<boolean>, close: () => Promise<void> = async () => {}): void {
  const url = argument("url");
  serveCommands(
    {},
    async (command) => {
      if (command.cmd !== "run") throw new Error(`unknown command ${command.cmd}`);
      const run = command as unknown as RunCommand;
      return closedLoop(prepare(url, run), run.concurrency, run.seconds);
    },
    close,
  );
}
