// A 60 s broker outage under load, on this file's RabbitMQ node. Alone in its file so
// that its minute overlaps the other reliability files. See docs/reliability.md.
import { describe, it } from "vitest";
import { useCleanup } from "../support/cleanup.ts";
import { usePrivateNode } from "./support/broker-node.ts";
import { brokerOutageUnderLoad } from "./support/outage.ts";

describe("reliability: long broker outage", () => {
  const node = usePrivateNode(["stop60"]);
  const cleanup = useCleanup();

  it("broker stop_app for 60 s under load", async () => {
    const { broker } = node();
    await brokerOutageUnderLoad("broker stop_app 60 s", node().vhost("stop60"), {
      begin: () => broker.stopApp(),
      end: () => broker.startApp(),
      durationMs: 60_000,
    }, cleanup);
  }, 180_000);
});
