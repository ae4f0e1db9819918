// The cost of TLS on AMQP, measured on a RabbitMQ node of its own with both listeners:
// connection set-up time, and CPU per 1,000 published-and-confirmed messages on the
// publisher and the broker, over amqp:// and amqps://. A benchmark that prints figures:
//   node_modules/.bin/node tests/security/tls-cost-amqp.ts [messages per row, default 5000] [rounds, default 3]
// Needs root (the node runs as the rabbitmq user, as Debian's scripts do).
import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { WorkSchema } from "@switchyard/contracts";
import { rascalConfig, Readiness, type TlsMaterial } from "@switchyard/platform";
import amqplib from "amqplib";
import { pino } from "pino";
import type { BrokerConfig } from "rascal";
import { startPrivateBroker } from "../support/private-broker.ts";
import { AmqpSender } from "../../services/producer/src/senders/amqp.ts";
import { createPki } from "./support/pki.ts";

const MESSAGES = Number(process.argv[2] ?? 5000);
const ROUNDS = Number(process.argv[3] ?? 3);
const CONNECTIONS = 30;
const WINDOW = 64;
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

const pki = createPki();
const ca = await pki.createCa("amqp-cost-ca");
const server = await ca.issue({ commonName: "rabbitmq", altNames: ["IP:127.0.0.1"] });
const broker = await startPrivateBroker({ tls: { certFile: server.certFile, keyFile: server.keyFile, caFile: ca.certFile } });
const brokerPid = Number((await broker.ctl("eval", "list_to_integer(os:getpid()).")).trim());
const cpuSecondsOf = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
};
const modes = {
  amqp: { url: broker.url, tls: undefined as TlsMaterial | undefined },
  amqps: { url: `amqps://guest:guest@127.0.0.1:${broker.tlsPort}/`, tls: { ca: ca.cert } as TlsMaterial | undefined },
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Milliseconds from connect to an open AMQP connection (TCP, TLS, AMQP handshake), `CONNECTIONS` times. */
async function connectTimes(url: string, tls: TlsMaterial | undefined): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    const started = performance.now();
    const connection = await amqplib.connect(url, tls);
    times.push(performance.now() - started);
    await connection.close();
  }
  return times;
}

/** Publishes `MESSAGES` with the producer's sender, `WINDOW` awaiting confirms at once. */
async function publish(sender: AmqpSender): Promise<number> {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < MESSAGES) {
      const id = `amqp-cost-${next++}-${Math.random()}`;
      const { outcome } = await sender.send(create(WorkSchema, { id, producerId: "tls-cost", payload: new Uint8Array(256) }), 10_000);
      if (outcome !== "ok") failed += 1;
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
  return failed;
}

const figures = new Map<string, { connectMs: number; callerUs: number; brokerUs: number; rate: number; failed: number }[]>();
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [mode, { url, tls }] of Object.entries(modes)) {
      const connectMs = median(await connectTimes(url, tls));
      const sender = new AmqpSender({
        rascal: rascalConfig({ url, deliveryLimit: 5, tls }) as BrokerConfig,
        window: WINDOW,
        readiness: new Readiness(),
        logger: pino({ level: "silent" }),
      });
      sender.start();
      for (let wait = 0; !sender.connected && wait < 200; wait++) await new Promise((resolve) => setTimeout(resolve, 100));
      await publish(sender); // warm-up, not measured
      const [brokerBefore, callerBefore, started] = [cpuSecondsOf(brokerPid), process.cpuUsage(), performance.now()];
      const failed = await publish(sender);
      const seconds = (performance.now() - started) / 1000;
      const caller = process.cpuUsage(callerBefore);
      const brokerCpu = cpuSecondsOf(brokerPid) - brokerBefore;
      await sender.close();
      await broker.ctl("purge_queue", "switchyard.work");
      figures.set(mode, [
        ...(figures.get(mode) ?? []),
        { connectMs, callerUs: (caller.user + caller.system) / MESSAGES, brokerUs: (brokerCpu / MESSAGES) * 1e6, rate: MESSAGES / seconds, failed },
      ]);
    }
  }
} finally {
  await broker.destroy();
  pki.destroy();
}
console.log(`${MESSAGES} messages of 256 B per row and round, ${WINDOW} awaiting confirm, quorum queue, median of ${ROUNDS} rounds; connect: ${CONNECTIONS} fresh AMQP connections`);
console.log("mode | connect p50 ms | publisher CPU µs/msg | broker CPU µs/msg | msg/s | failed");
console.log("---|---|---|---|---|---");
for (const [mode, runs] of figures) {
  const m = (pick: (run: (typeof runs)[number]) => number) => median(runs.map(pick));
  console.log([mode, m((r) => r.connectMs).toFixed(2), m((r) => r.callerUs).toFixed(0), m((r) => r.brokerUs).toFixed(0), m((r) => r.rate).toFixed(0), String(runs.reduce((s, r) => s + r.failed, 0))].join(" | "));
}
