// Hostile input while valid traffic flows, on this file's RabbitMQ node (a malformed
// x-death header can crash RabbitMQ 3.10's dead-letter worker for the whole node, so
// never on the shared broker): hostile AMQP messages, HTTP/2 rapid reset against the
// h2c port, and 10,000 slow connections against the HTTP/1.1 port. See docs/reliability.md.
import amqp from "amqplib";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { eventually } from "../support/broker.ts";
import { useCleanup } from "../support/cleanup.ts";
import { startAttack } from "./support/attack.ts";
import { usePrivateNode } from "./support/broker-node.ts";
import { startHandlerProcess, type HandlerProcess } from "./support/handler-process.ts";
import { hostileMessages } from "./support/hostile.ts";
import { ScenarioLedger } from "./support/ledger.ts";
import { startAmqpLoad, startRpcLoad } from "./support/load.ts";
import { expectNothingLost, RECOVERY_BOUND_MS, settle } from "./support/scenario.ts";
import { newRunId, sequenceOf } from "./support/work.ts";

/**
 * Attempts per valid call while an attacker runs: eight, about 25 s with the backoff, so
 * "every valid call answered" means served within that, on a machine whose two cores the
 * attacker shares.
 */
const PATIENT = 8;

describe("reliability: hostile input", () => {
  const node = usePrivateNode(["hostile", "reset", "slow"]);
  const cleanup = useCleanup();

  async function handler(amqpUrl: string): Promise<HandlerProcess> {
    const started = await startHandlerProcess({ env: { AMQP_URL: amqpUrl, SHUTDOWN_GRACE_MS: "3000" } });
    cleanup.push(() => started.stop(5_000));
    await eventually(async () => (await started.readyz()) === 200, 30_000, 100);
    return started;
  }

  const rss = async (target: HandlerProcess) => Math.round((await target.metric("process_resident_memory_bytes")) / 2 ** 20);

  it("hostile AMQP messages mixed with valid ones", async () => {
    const vhost = node().vhost("hostile");
    const target = await handler(vhost.url);
    const runId = newRunId("valid");
    const hostileRun = newRunId("hostile");
    const ledger = new ScenarioLedger("hostile AMQP messages");
    const hostile = hostileMessages(hostileRun);
    const startPid = target.child.pid;

    // Valid load throughout; every hostile message goes out in the middle of it.
    const load = startAmqpLoad({ ledger, runId, url: vhost.url, rate: 100, maxMessages: 600 });
    cleanup.push(() => load.stop());
    await eventually(() => ledger.acknowledgedCount >= 100, 20_000, 100);
    const connection = await amqp.connect(vhost.url);
    cleanup.push(() => connection.close().catch(() => undefined));
    const channel = await connection.createConfirmChannel();
    for (const message of hostile) {
      channel.publish("switchyard.work", "work", message.body, { persistent: true, mandatory: true, ...message.properties });
    }
    await channel.waitForConfirms();
    await connection.close();
    await eventually(() => load.sent >= 600, 30_000, 100);
    await load.stop();

    const { figures, deadLetters } = await settle({
      ledger,
      runId,
      ctl: vhost.ctl,
      vhost: vhost.name,
      amqpUrl: vhost.url,
      handlers: [target],
      otherDeadLetters: (letters) => letters.filter((letter) => sequenceOf(hostileRun, letter.messageId) !== undefined).length,
    });
    expect(target.running, "handler still running").toBe(true);
    expect(target.child.pid, "the same process: no crash and restart").toBe(startPid);
    expectNothingLost(figures);
    expect(figures.deadLettered, "valid neighbours are not dead-lettered").toBe(0);

    // Every hostile message is handled or dead-lettered with its reason, and not both.
    const hostileReport = await target.report(hostileRun);
    const handled = new Set<number>();
    for (const { first, last } of hostileReport.ranges) for (let n = first; n <= last; n++) handled.add(n);
    const dead = new Map<number, unknown>();
    for (const letter of deadLetters) {
      const n = sequenceOf(hostileRun, letter.messageId);
      if (n === undefined) continue;
      expect(dead.has(n), `message ${n} dead-lettered twice`).toBe(false);
      dead.set(n, letter.reason ?? letter.death);
    }
    hostile.forEach((message, index) => {
      const n = index + 1;
      const outcome = handled.has(n) ? "handled" : dead.has(n) ? "dead-lettered" : "missing";
      if (!message.validWork) expect(outcome, `${message.what}`).toBe("dead-lettered");
      else expect(["handled", "dead-lettered"], `${message.what}`).toContain(outcome);
      if (outcome === "dead-lettered") expect(dead.get(n), `reason for ${message.what}`).toBeTruthy();
      expect(handled.has(n) && dead.has(n), `${message.what} handled and dead-lettered`).toBe(false);
    });
    expect(hostileReport.duplicates, "hostile messages handled twice").toBe(0);
  }, 120_000);

  it("HTTP/2 rapid reset on the h2c port while valid gRPC and Connect calls flow", async () => {
    const vhost = node().vhost("reset");
    const target = await handler(vhost.url);
    const runId = newRunId("reset");
    const ledger = new ScenarioLedger("HTTP/2 rapid reset");
    const grpcLoad = startRpcLoad({ ledger, runId, transport: "grpc", baseUrl: target.h2cUrl, rate: 50, maxMessages: 2_000, attempts: PATIENT });
    const connectLoad = startRpcLoad({ ledger, runId, transport: "connect", baseUrl: target.httpUrl, rate: 20, maxMessages: 1_000, sequenceOffset: 1_000_000, attempts: PATIENT });
    cleanup.push(() => grpcLoad.stop(), () => connectLoad.stop());
    await eventually(() => ledger.acknowledgedCount >= 50, 20_000, 100);
    const rssBefore = await rss(target);

    // Open a stream and reset it at once, as fast as the attacker can, for 10 s or
    // 50,000 streams; a session the server closes (its own flood protection) is replaced.
    const attack = startAttack<{ streams: number; sessions: number }>(["rapid-reset", target.h2cUrl, "50000", "10000"]);
    cleanup.push(() => attack.end());
    const { streams, sessions } = await attack.report;
    ledger.faultEnded();
    // Waits past RECOVERY_BOUND_MS so that a slow recovery is still measured and the
    // row reported; the bound is asserted below.
    await eventually(async () => !target.running || (await target.readyz()) === 200, 2 * RECOVERY_BOUND_MS, 100);
    expect(target.running, `handler still running after the attack; its last lines:\n${target.lines.slice(-5).join("\n")}`).toBe(true);
    ledger.recovered();
    const rssAfter = await rss(target);
    await Promise.all([grpcLoad.stop(), connectLoad.stop()]);
    console.info(
      `rapid reset: ${streams} streams reset over ${sessions} sessions; handler RSS ${rssBefore} → ${rssAfter} MiB; ` +
        `unanswered gRPC ${JSON.stringify(grpcLoad.failures())}, Connect ${JSON.stringify(connectLoad.failures())}`,
    );

    const { figures } = await settle({ ledger, runId, ctl: vhost.ctl, vhost: vhost.name, amqpUrl: vhost.url, handlers: [target] });
    expect(target.running, "handler still running").toBe(true);
    expect(figures.recoverySeconds, "seconds until the handler answered /readyz again").toBeLessThanOrEqual(RECOVERY_BOUND_MS / 1000);
    expectNothingLost(figures);
    expect(figures.acknowledged, "every valid call was answered (retries allowed)").toBe(figures.attempted);
  }, 150_000);

  it("10,000 slow connections holding partial headers while valid calls flow", async () => {
    const vhost = node().vhost("slow");
    const target = await handler(vhost.url);
    const runId = newRunId("slow");
    const ledger = new ScenarioLedger("10k slow connections");
    const connectLoad = startRpcLoad({ ledger, runId, transport: "connect", baseUrl: target.httpUrl, rate: 20, maxMessages: 1_000, attempts: PATIENT });
    const grpcLoad = startRpcLoad({ ledger, runId, transport: "grpc", baseUrl: target.h2cUrl, rate: 20, maxMessages: 1_000, sequenceOffset: 1_000_000, attempts: PATIENT });
    cleanup.push(() => grpcLoad.stop(), () => connectLoad.stop());
    await eventually(() => ledger.acknowledgedCount >= 20, 20_000, 100);

    const opening = performance.now();
    const attack = startAttack<{ opened: number; connected: number }>(["slow-connections", target.httpUrl, "10000"]);
    cleanup.push(() => attack.end());
    const { opened, connected } = await attack.report;
    const openedInS = ((performance.now() - opening) / 1000).toFixed(1);
    const fds = await target.metric("process_open_fds");
    const sentBeforeHold = connectLoad.sent;
    // Hold them while valid traffic flows: the hold is the fault itself.
    await sleep(5_000);
    const sentDuringHold = connectLoad.sent - sentBeforeHold;
    await attack.end();
    ledger.faultEnded();
    await eventually(async () => (await target.readyz()) === 200, 30_000, 100);
    ledger.recovered();
    await Promise.all([grpcLoad.stop(), connectLoad.stop()]);
    console.info(
      `slow connections: ${connected} of ${opened} opened in ${openedInS} s and held; handler had ${fds} open fds; ` +
        `unanswered Connect ${JSON.stringify(connectLoad.failures())}, gRPC ${JSON.stringify(grpcLoad.failures())}`,
    );

    const { figures } = await settle({ ledger, runId, ctl: vhost.ctl, vhost: vhost.name, amqpUrl: vhost.url, handlers: [target] });
    expect(target.running, "handler still running").toBe(true);
    expect(connected, "slow connections the handler accepted").toBeGreaterThan(9_000);
    expect(sentDuringHold, "valid calls went on during the hold").toBeGreaterThan(50);
    expectNothingLost(figures);
    expect(figures.acknowledged, "every valid call was answered (retries allowed)").toBe(figures.attempted);
  }, 120_000);
});
