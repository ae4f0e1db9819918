import { rascalConfig } from "@switchyard/platform";
import { describe, expect, it } from "vitest";

const vhostOf = (config: ReturnType<typeof rascalConfig>) => Object.values(config.vhosts)[0]!;

describe("Rascal configuration for least privilege and TLS", () => {
  it("only checks exchanges and queues, and binds nothing, in check mode", () => {
    const vhost = vhostOf(rascalConfig({ url: "amqp://u:p@broker:5672/v", deliveryLimit: 5, topology: "check" }));
    for (const entity of [...Object.values(vhost.exchanges), ...Object.values(vhost.queues)]) expect(entity).toMatchObject({ assert: false, check: true });
    expect(vhost.bindings).toEqual({});
  });

  it("declares everything by default", () => {
    const vhost = vhostOf(rascalConfig({ url: "amqp://u:p@broker:5672/v", deliveryLimit: 5 }));
    for (const entity of [...Object.values(vhost.exchanges), ...Object.values(vhost.queues)]) expect(entity).not.toHaveProperty("assert");
    expect(Object.keys(vhost.bindings)).toEqual(["work", "dead"]);
  });

  it("hands the CA and the client certificate to the socket, the certificate only with its key", () => {
    const [ca, cert, key] = [Buffer.from("ca"), Buffer.from("cert"), Buffer.from("key")];
    expect(vhostOf(rascalConfig({ url: "amqps://u:p@broker/", deliveryLimit: 5, tls: { ca, cert, key } })).connection.socketOptions).toEqual({ timeout: 5000, ca, cert, key });
    expect(vhostOf(rascalConfig({ url: "amqps://u:p@broker/", deliveryLimit: 5, tls: { ca, cert } })).connection.socketOptions).toEqual({ timeout: 5000, ca });
    expect(vhostOf(rascalConfig({ url: "amqp://u:p@broker/", deliveryLimit: 5 })).connection.socketOptions).toEqual({ timeout: 5000 });
  });
});
