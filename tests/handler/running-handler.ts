import { pino } from "pino";
import { afterAll, beforeAll } from "vitest";
import { createTestVhost, eventually, type TestVhost } from "../support/broker.ts";
import { startService, type ServiceProcess } from "../support/process.ts";
import { build, type HandlerApp } from "../../services/handler/src/app.ts";
import { loadHandlerConfig } from "../../services/handler/src/config.ts";

/** A handler built in this process, listening on loopback ports chosen by the OS. */
export interface RunningHandler {
  app: HandlerApp;
  httpUrl: string;
  h2cUrl: string;
  /** The service's whole shutdown, as on SIGTERM. */
  close(): Promise<void>;
}

/** Builds the handler from `env` (on top of the defaults), listens, and starts consuming. */
export async function startHandler(env: Record<string, string>): Promise<RunningHandler> {
  const config = loadHandlerConfig({ BIND_HOST: "127.0.0.1", HTTP_PORT: "0", H2C_PORT: "0", ...env });
  const app = await build(config, pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }));
  const httpUrl = await app.http.listen({ host: "127.0.0.1", port: 0 });
  const h2cUrl = await app.h2c.listen({ host: "127.0.0.1", port: 0 });
  app.consumer.start();
  return { app, httpUrl, h2cUrl, close: () => app.close() };
}

/**
 * Registers beforeAll/afterAll hooks that give the calling `describe` a vhost of its own
 * and a handler on it, ready, and close both afterwards. Read them through the returned
 * getter inside tests.
 */
export function useHandlerOnOwnVhost(env: Record<string, string>): () => { handler: RunningHandler; vhost: TestVhost } {
  let vhost: TestVhost | undefined;
  let handler: RunningHandler | undefined;
  beforeAll(async () => {
    vhost = await createTestVhost();
    handler = await startHandler({ AMQP_URL: vhost.url, ...env });
    await eventually(() => handler!.app.readiness.ready);
  });
  afterAll(async () => {
    await handler?.close();
    await vhost?.delete();
  });
  return () => ({ handler: handler!, vhost: vhost! });
}

/**
 * Like {@link useHandlerOnOwnVhost}, with the handler as a real process (`main.ts`), for
 * tests that must see whether input can take the process down. afterAll stops it with
 * SIGTERM and deletes the vhost.
 */
export function useHandlerProcessOnOwnVhost(env: Record<string, string>): () => { handler: ServiceProcess; vhost: TestVhost } {
  let vhost: TestVhost | undefined;
  // Registered first, so it runs last: after hooks run in reverse order (vitest's "stack").
  afterAll(async () => {
    await vhost?.delete();
  });
  const handler = useHandlerProcess(() => ({ AMQP_URL: vhost!.url, ...env }), async () => {
    vhost = await createTestVhost();
  });
  return () => ({ handler: handler(), vhost: vhost! });
}

/**
 * Registers beforeAll/afterAll hooks that start the handler as a real process with the
 * environment `env()` returns (read when the hook runs, after `before`), wait until it is
 * ready, and stop it with SIGTERM afterwards.
 */
export function useHandlerProcess(env: () => Record<string, string>, before?: () => Promise<void>): () => ServiceProcess {
  let handler: ServiceProcess | undefined;
  beforeAll(async () => {
    await before?.();
    handler = await startService("handler", env());
    await eventually(async () => (await fetch(`${handler!.httpUrl}/readyz`)).status === 200, 30_000);
  });
  afterAll(async () => {
    if (!handler) return;
    // A handler that does not exit on SIGTERM is a failure of its own; it must not
    // outlive the test either.
    const killer = setTimeout(() => handler!.child.kill("SIGKILL"), 15_000);
    await handler.stop();
    clearTimeout(killer);
  }, 30_000);
  return () => handler!;
}
