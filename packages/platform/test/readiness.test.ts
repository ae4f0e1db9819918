import { createClient, createRouterTransport } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "@switchyard/contracts/health";
import { describe, expect, it } from "vitest";
import { healthRoutes } from "../src/health-service.ts";
import { Readiness } from "../src/readiness.ts";

describe("Readiness", () => {
  it("is ready only when every required condition holds and it is not draining", () => {
    const readiness = new Readiness();
    expect(readiness.ready).toBe(true);
    readiness.require("listener");
    readiness.require("broker");
    expect(readiness.ready).toBe(false);
    readiness.set("listener", true);
    readiness.set("broker", true);
    expect(readiness.ready).toBe(true);
    readiness.drain();
    expect(readiness.ready).toBe(false);
    readiness.set("broker", true);
    expect(readiness.snapshot()).toEqual({ listener: true, broker: true, draining: true });
  });

  it("tells listeners only when the overall state flips", () => {
    const readiness = new Readiness();
    readiness.require("a");
    const changes: boolean[] = [];
    readiness.onChange((ready) => changes.push(ready));
    readiness.set("a", false);
    readiness.set("a", true);
    readiness.set("a", true);
    readiness.set("a", false);
    expect(changes).toEqual([true, false]);
  });
});

describe("grpc.health.v1 over Readiness", () => {
  it("streams SERVING and NOT_SERVING to Watch as readiness changes", async () => {
    const readiness = new Readiness();
    readiness.require("broker");
    const health = createClient(Health, createRouterTransport(healthRoutes(readiness, ["x.v1.Service"])));
    expect((await health.check({ service: "x.v1.Service" })).status).toBe(Serving.NOT_SERVING);
    const abort = new AbortController();
    const seen: Serving[] = [];
    const watching = (async () => {
      try {
        for await (const response of health.watch({ service: "" }, { signal: abort.signal })) {
          seen.push(response.status);
          if (seen.length === 1) readiness.set("broker", true);
          if (seen.length === 2) readiness.set("broker", false);
          if (seen.length === 3) abort.abort();
        }
      } catch {
        // aborted by the test
      }
    })();
    await watching;
    expect(seen).toEqual([Serving.NOT_SERVING, Serving.SERVING, Serving.NOT_SERVING]);
  });
});
