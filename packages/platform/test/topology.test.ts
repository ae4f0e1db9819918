import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { RECONNECT_BACKOFF, rascalConfig } from "../src/topology.ts";

// Rascal's own preflight, the one BrokerAsPromised.create runs before connecting:
// configure (merge defaults, normalise connections) then validate. Rascal exports no
// public entry for it, so the modules are loaded by path.
const require = createRequire(import.meta.url);
const configure = require("rascal/lib/config/configure.js") as (config: unknown, next: (error: Error | null, out?: unknown) => void) => void;
const validate = require("rascal/lib/config/validate.js") as (config: unknown, next: (error: Error | null, out?: unknown) => void) => void;

interface ConfiguredVhost {
  connections: Array<{ retry: unknown; url: string; socketOptions: unknown }>;
}

async function preflight(config: unknown): Promise<{ vhosts: Record<string, ConfiguredVhost> }> {
  const configured = await new Promise<unknown>((resolve, reject) =>
    configure(structuredClone(config), (error, out) => (error ? reject(error) : resolve(out))),
  );
  return new Promise((resolve, reject) =>
    validate(configured, (error, out) => (error ? reject(error) : resolve(out as { vhosts: Record<string, ConfiguredVhost> }))),
  );
}

describe("rascalConfig as Rascal reads it", () => {
  it("reconnects with the project's capped backoff, not Rascal's 1 s to 60 s default", async () => {
    const configured = await preflight(rascalConfig({ url: "amqp://u:p@broker.example:5672/v1", deliveryLimit: 5 }));
    const [connection] = configured.vhosts.v1!.connections;
    // Vhost.js builds its reconnect timer from exactly this object.
    expect(connection!.retry).toEqual(RECONNECT_BACKOFF);
  });

  it("keeps the URL's credentials and host, and the socket options", async () => {
    const configured = await preflight(rascalConfig({ url: "amqp://u:p@broker.example:5672/v1", deliveryLimit: 5 }));
    const [connection] = configured.vhosts.v1!.connections;
    expect(connection!.url).toMatch(/^amqp:\/\/u:p@broker\.example:5672\/v1\?/);
    expect(connection!.socketOptions).toEqual({ timeout: 5000 });
  });
});
