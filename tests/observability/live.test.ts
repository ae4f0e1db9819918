import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createTestVhost, type TestVhost } from "../support/broker.ts";
import { startService, type ServiceProcess } from "../support/process.ts";
import {
  COMPARED_TRANSPORTS,
  expandQuery,
  isPerTransport,
  legendName,
  loadDashboard,
  queryPanels,
  RULES_PATH,
  type Expansion,
  type Panel,
} from "./support/dashboard.ts";
import { documentedFor, parseExposition } from "./support/metrics-doc.ts";
import { havePrometheus, startPrometheus, type Sample, type TestPrometheus } from "./support/prometheus.ts";
import { vectorSelectors } from "./support/promql.ts";

// The proof of issue "dashboard and alerts": the real handler and producer with steady
// load on all three transports, the shared RabbitMQ with its Prometheus plugin, and a
// Prometheus of the test's own scraping them with the labels the ServiceMonitors give.
// Two handler replicas on the one vhost, each scraped as its own pod, as a scaled-out
// Deployment is. Every query is read out of the dashboard JSON and the rules file, never
// restated here.

const NAMESPACE = "switchyard-proof";
const SCRAPE_SECONDS = 2;
/** Messages per second per transport: light on a 2-core machine, plenty for every series. */
const RATE_PER_TRANSPORT = "40";
/**
 * The recording rules' 1m windows must be full before rates mean what they say (a
 * partly filled window under-reports); then the checks pass at once. The margin is for
 * a busy machine.
 */
const WINDOW_SECONDS = 60;
const SETTLE_MS = 100_000;
/** The handler replicas' pod labels; the producer's gRPC and Connect traffic goes to the first. */
const HANDLER_PODS = ["switchyard-handler-0", "switchyard-handler-1"] as const;

const dashboard = loadDashboard();
const panels = queryPanels(dashboard);
const rules = (
  parse(readFileSync(RULES_PATH, "utf8")) as {
    groups: Array<{ name: string; rules: Array<{ record?: string; alert?: string; expr: string }> }>;
  }
).groups.flatMap((group) => group.rules);

interface Round {
  problems: string[];
  /** Per panel target: the query and the latest value of each series, for the log. */
  shown: string[];
}

/**
 * Runs `check` until it reports no problems or `timeoutMs` passes; returns the last round.
 * The bound is on the monotonic clock: a wall-clock step (a paused VM catching up) must
 * not end the wait while Prometheus' windows, which follow the wall clock, refill.
 */
async function settle(check: () => Promise<Round>, timeoutMs: number): Promise<Round> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const round = await check();
    if (round.problems.length === 0 || performance.now() > deadline) return round;
    await sleep(SCRAPE_SECONDS * 1000);
  }
}

const format = (value: number) => (Math.abs(value) >= 100 || value === 0 ? value.toFixed(0) : value.toPrecision(3));

/** What every value of a panel must look like, from its unit and whether it is per transport. */
function plausibility(panel: Panel, perTransport: boolean, series: Array<Sample & { name: string }>): string[] {
  const problems: string[] = [];
  const unit = panel.fieldConfig?.defaults.unit;
  for (const { name, value } of series) {
    if (!Number.isFinite(value) || value < 0) problems.push(`${name} = ${value}`);
    if (["s", "bytes"].includes(unit!) && !(value > 0)) problems.push(`${name} = ${value}, expected > 0 ${unit}`);
    if (unit === "percentunit" && perTransport && value > 1) problems.push(`${name} = ${value}, a ratio above 1`);
    if (unit === "percentunit" && !perTransport && !(value > 0)) problems.push(`${name} = ${value}, expected CPU > 0`);
  }
  if (perTransport && ["ops", "Bps"].includes(unit!)) {
    for (const transport of COMPARED_TRANSPORTS) {
      const total = series.filter((entry) => entry.labels.transport === transport).reduce((sum, entry) => sum + entry.value, 0);
      if (!(total > 0)) problems.push(`${transport}: rate ${total}, expected > 0`);
    }
  }
  // Quantile pairs: "<x> p50" never above "<x> p99".
  for (const low of series.filter((entry) => entry.name.endsWith(" p50"))) {
    const high = series.find((entry) => entry.name === low.name.replace(/ p50$/, " p99"));
    if (high && !(low.value <= high.value)) problems.push(`${low.name} ${low.value} > ${high.name} ${high.value}`);
  }
  return problems;
}

describe.runIf(havePrometheus())("the dashboard and rules against a real Prometheus", () => {
  let vhost: TestVhost;
  const handlers: ServiceProcess[] = [];
  let producer: ServiceProcess;
  let prometheus: TestPrometheus;

  beforeAll(async () => {
    vhost = await createTestVhost("switchyard-observability");
    // One at a time, each kept as soon as it runs, so afterAll stops every one started.
    while (handlers.length < HANDLER_PODS.length) {
      handlers.push(
        await startService("handler", {
          AMQP_URL: vhost.url,
          // A few failures so error codes, error ratios and redeliveries carry real values.
          SIMULATED_FAILURE_RATIO: "0.02",
        }),
      );
    }
    const handler = handlers[0]!;
    producer = await startService("producer", {
      AMQP_URL: vhost.url,
      HANDLER_HTTP_URL: handler.httpUrl,
      HANDLER_GRPC_URL: handler.h2cUrl,
      BACKGROUND_RATE_GRPC: RATE_PER_TRANSPORT,
      BACKGROUND_RATE_CONNECT: RATE_PER_TRANSPORT,
      BACKGROUND_RATE_AMQP: RATE_PER_TRANSPORT,
      BACKGROUND_PAYLOAD_BYTES: "1024",
    });
    const target = (url: string, labels: Record<string, string>) => ({
      targets: [new URL(url).host],
      labels: { namespace: NAMESPACE, ...labels },
    });
    // What the ServiceMonitors produce: job from app.kubernetes.io/component, plus the
    // namespace, pod, service and endpoint target labels.
    prometheus = await startPrometheus({
      global: { scrape_interval: `${SCRAPE_SECONDS}s`, scrape_timeout: `${SCRAPE_SECONDS}s`, evaluation_interval: `${SCRAPE_SECONDS}s` },
      rule_files: [RULES_PATH],
      scrape_configs: [
        {
          job_name: "handler",
          static_configs: handlers.map((replica, index) =>
            target(replica.httpUrl, { pod: HANDLER_PODS[index]!, service: "switchyard-handler", endpoint: "http" }),
          ),
        },
        {
          job_name: "producer",
          static_configs: [target(producer.httpUrl, { pod: "switchyard-producer-0", service: "switchyard-producer", endpoint: "http" })],
        },
        {
          job_name: "rabbitmq",
          static_configs: [target("http://127.0.0.1:15692", { pod: "switchyard-rabbitmq-0", service: "switchyard-rabbitmq", endpoint: "prometheus" })],
        },
        {
          job_name: "rabbitmq-detailed",
          metrics_path: "/metrics/detailed",
          params: { family: ["queue_coarse_metrics", "queue_consumer_count", "channel_queue_metrics"] },
          static_configs: [
            target("http://127.0.0.1:15692", { pod: "switchyard-rabbitmq-0", service: "switchyard-rabbitmq", endpoint: "prometheus-detailed" }),
          ],
          relabel_configs: [{ target_label: "job", replacement: "rabbitmq" }],
        },
      ],
    });
  }, 90_000);

  afterAll(async () => {
    await prometheus?.stop();
    await producer?.stop();
    for (const replica of handlers) await replica.stop();
    await vhost?.delete();
  });

  /** Why the 1m rate windows cannot be trusted yet, or undefined once every handler filled them. */
  async function rateWindowsNotFull(): Promise<string | undefined> {
    const scrapes = await prometheus.query(`count_over_time(up{job="handler", namespace="${NAMESPACE}"}[${WINDOW_SECONDS}s])`);
    const fewest = scrapes.length < HANDLER_PODS.length ? 0 : Math.min(...scrapes.map((sample) => sample.value));
    return fewest < WINDOW_SECONDS / SCRAPE_SECONDS - 1 ? `rate windows not full yet (${fewest} scrapes of a handler)` : undefined;
  }

  it("documents exactly the metric families both services export (docs/metrics.md)", async () => {
    for (const [service, process] of [["handler", handlers[0]!], ["producer", producer]] as const) {
      const exposed = parseExposition(await (await fetch(`${process.httpUrl}/metrics`)).text());
      const documented = documentedFor(service);
      expect([...exposed.keys()].sort(), `${service}: exported families vs docs/metrics.md`).toEqual([...documented.keys()].sort());
      for (const [name, family] of exposed) {
        const row = documented.get(name)!;
        expect(family.type, `${service} ${name} type`).toBe(row.type);
        for (const label of family.labels) expect(row.labels, `${service} ${name} labels`).toContain(label);
        if (name.startsWith("switchyard_")) expect([...family.labels].sort(), `${service} ${name}`).toEqual([...row.labels].sort());
      }
    }
  });

  it(
    "answers every dashboard query with data for each transport, and plausible values",
    async () => {
      const round = await settle(async () => {
        const problems: string[] = [];
        const shown: string[] = [];
        const notFull = await rateWindowsNotFull();
        if (notFull) return { problems: [notFull], shown };
        // The variables as Grafana resolves them, through the same label_values queries.
        const namespaces = await prometheus.labelValues("namespace", "switchyard_build_info");
        if (!namespaces.includes(NAMESPACE)) problems.push(`$namespace offers ${namespaces.join(",")}`);
        const transportQuery = dashboard.templating.list.find((variable) => variable.name === "transport")!.query;
        const labelValues = /^label_values\((.+),\s*(\w+)\)$/.exec(typeof transportQuery === "string" ? transportQuery : transportQuery.query)!;
        const transports = await prometheus.labelValues(
          labelValues[2]!,
          labelValues[1]!.replace("$namespace", NAMESPACE),
        );
        for (const transport of COMPARED_TRANSPORTS) {
          if (!transports.includes(transport)) problems.push(`$transport offers ${transports.join(",")}`);
        }
        const expansion: Expansion = {
          namespace: NAMESPACE,
          transport: transports,
          intervalSeconds: SCRAPE_SECONDS,
          scrapeIntervalSeconds: SCRAPE_SECONDS,
        };
        const end = Math.floor(Date.now() / 1000);
        const range = { start: end - 30, end, step: SCRAPE_SECONDS };
        for (const panel of panels) {
          for (const target of panel.targets ?? []) {
            const where = `${panel.title} [${target.refId}]`;
            const expr = expandQuery(target.expr, expansion);
            let samples: Sample[];
            try {
              samples = await prometheus.queryRange(expr, range);
            } catch (error) {
              problems.push(`${where}: ${(error as Error).message}`);
              continue;
            }
            const series = samples.map((sample) => ({ ...sample, name: legendName(target.legendFormat, sample.labels) }));
            shown.push(`${where}: ${series.map((entry) => `${entry.name}=${format(entry.value)}`).join(", ") || "(no data)"}`);
            if (series.length === 0) {
              problems.push(`${where}: no series for ${expr}`);
              continue;
            }
            const perTransport = isPerTransport(target);
            if (perTransport) {
              const seen = new Set(series.map((entry) => entry.labels.transport));
              for (const transport of COMPARED_TRANSPORTS) {
                if (!seen.has(transport)) problems.push(`${where}: no ${transport} series`);
              }
            }
            if (series.some((entry) => "vhost" in entry.labels) && !series.some((entry) => entry.labels.vhost === vhost.name)) {
              problems.push(`${where}: no series for the test's vhost ${vhost.name}`);
            }
            problems.push(...plausibility(panel, perTransport, series).map((problem) => `${where}: ${problem}`));
            for (const selector of vectorSelectors(expr)) {
              const [count] = await prometheus.query(`count(${selector})`);
              if (!count) problems.push(`${where}: nothing matches ${selector}`);
            }
          }
        }
        return { problems, shown };
      }, SETTLE_MS);
      console.log(`Dashboard "${dashboard.title}", last values:\n  ${round.shown.join("\n  ")}`);
      expect(round.problems).toEqual([]);
    },
    SETTLE_MS + 30_000,
  );

  it(
    "evaluates every recording and alerting rule without errors, with data behind every selector",
    async () => {
      const round = await settle(async () => {
        const problems: string[] = [];
        const shown: string[] = [];
        // Prometheus itself evaluates the file every interval: each rule must report ok.
        const loaded = (await prometheus.api("rules")) as {
          groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }>;
        };
        const evaluated = loaded.groups.flatMap((group) => group.rules);
        if (evaluated.length !== rules.length) problems.push(`prometheus loaded ${evaluated.length} of ${rules.length} rules`);
        for (const rule of evaluated) {
          if (rule.health !== "ok") problems.push(`${rule.name}: health ${rule.health} ${rule.lastError ?? ""}`);
        }
        for (const rule of rules) {
          const name = rule.record ?? rule.alert!;
          let result: Sample[];
          try {
            result = await prometheus.query(rule.expr);
          } catch (error) {
            problems.push(`${name}: ${(error as Error).message}`);
            continue;
          }
          for (const selector of vectorSelectors(rule.expr)) {
            const [count] = await prometheus.query(`count(${selector})`);
            if (!count) problems.push(`${name}: nothing matches ${selector}`);
          }
          if (!rule.record) {
            shown.push(`${name}: ${result.length} alerting series now`);
            continue;
          }
          // A recorded series: the test's namespace, each compared transport or service.
          const mine = (await prometheus.query(`${rule.record}{namespace="${NAMESPACE}"}`)).filter((sample) => !("le" in sample.labels) || sample.labels.le === "+Inf");
          shown.push(`${name}: ${mine.map((sample) => `${sample.labels.transport ?? sample.labels.job}${sample.labels.outcome ? `/${sample.labels.outcome}` : ""}=${format(sample.value)}`).join(", ")}`);
          if (mine.length === 0) problems.push(`${name}: no series in ${NAMESPACE}`);
          for (const sample of mine) {
            if (!Number.isFinite(sample.value) || sample.value < 0) problems.push(`${name} ${JSON.stringify(sample.labels)} = ${sample.value}`);
          }
          const level = rule.record.split(":")[0]!.split("_");
          const expected = level.includes("transport") ? COMPARED_TRANSPORTS : level.includes("job") ? ["handler", "producer"] : [];
          for (const value of expected) {
            if (!mine.some((sample) => sample.labels.transport === value || sample.labels.job === value)) problems.push(`${name}: no ${value} series`);
          }
          if (rule.record === "namespace_transport_outcome:switchyard_producer_messages:rate1m") {
            // The throughput the series report is the load the producer was asked for.
            for (const transport of COMPARED_TRANSPORTS) {
              const rate = mine.filter((sample) => sample.labels.transport === transport).reduce((sum, sample) => sum + sample.value, 0);
              // Loose bounds: a busy machine delays the producer's ticks, never adds sends.
              if (!(rate > Number(RATE_PER_TRANSPORT) * 0.5 && rate < Number(RATE_PER_TRANSPORT) * 1.25)) {
                problems.push(`${name}: ${transport} ${rate}/s, the producer sends ${RATE_PER_TRANSPORT}/s`);
              }
            }
          }
          if (rule.record.includes(":p50_")) {
            const p99 = await prometheus.query(`${rule.record.replace(":p50_", ":p99_")}{namespace="${NAMESPACE}"}`);
            for (const low of mine) {
              const high = p99.find((sample) => sample.labels.transport === low.labels.transport);
              if (!high || !(low.value <= high.value)) problems.push(`${name}: ${low.labels.transport} p50 ${low.value} > p99 ${high?.value}`);
            }
          }
        }
        return { problems, shown };
      }, SETTLE_MS);
      console.log(`Rules, values in ${NAMESPACE}:\n  ${round.shown.join("\n  ")}`);
      expect(round.problems).toEqual([]);
    },
    SETTLE_MS + 30_000,
  );

  it(
    "shows each handler replica's share of every transport, the shares of a transport summing to 1",
    async () => {
      // The panel that breaks the handled messages down by replica: its legend names the pod.
      const replicaPanels = panels.filter((panel) => panel.targets?.some((target) => target.legendFormat?.includes("{{pod}}")));
      expect(replicaPanels.map((panel) => panel.title)).toHaveLength(1);
      const [panel] = replicaPanels;
      const [target] = panel!.targets!;
      const expansion: Expansion = {
        namespace: NAMESPACE,
        transport: [...COMPARED_TRANSPORTS],
        intervalSeconds: SCRAPE_SECONDS,
        scrapeIntervalSeconds: SCRAPE_SECONDS,
      };
      const expr = expandQuery(target!.expr, expansion);
      const round = await settle(async () => {
        const notFull = await rateWindowsNotFull();
        if (notFull) return { problems: [notFull], shown: [] };
        const problems: string[] = [];
        // Each replica its own target, told apart by pod and by instance as in a cluster.
        const targets = await prometheus.query(`up{job="handler", namespace="${NAMESPACE}"} == 1`);
        for (const label of ["pod", "instance"]) {
          const values = new Set(targets.map((sample) => sample.labels[label]));
          if (targets.length !== HANDLER_PODS.length || values.size !== HANDLER_PODS.length) {
            problems.push(`${targets.length} handler targets up, ${label} ${[...values].join(",")}`);
          }
        }
        const end = Math.floor(Date.now() / 1000);
        const samples = await prometheus.queryRange(expr, { start: end - 30, end, step: SCRAPE_SECONDS });
        const shown = samples.map((sample) => `${legendName(target!.legendFormat, sample.labels)}=${format(sample.value)}`);
        for (const transport of COMPARED_TRANSPORTS) {
          const mine = samples.filter((sample) => sample.labels.transport === transport);
          const share = (pod: string) => mine.find((sample) => sample.labels.pod === pod)?.value;
          // One series per replica, each its own pod.
          const pods = mine.map((sample) => sample.labels.pod).sort();
          if (JSON.stringify(pods) !== JSON.stringify([...HANDLER_PODS])) problems.push(`${transport}: series for pods ${pods.join(",")}`);
          const total = mine.reduce((sum, sample) => sum + sample.value, 0);
          if (!(Math.abs(total - 1) < 1e-6)) problems.push(`${transport}: shares sum to ${total}`);
          if (transport === "amqp") {
            // Competing consumers on one queue: RabbitMQ hands deliveries to both.
            for (const pod of HANDLER_PODS) {
              if (!((share(pod) ?? 0) > 0)) problems.push(`amqp: ${pod} has share ${share(pod)}, expected > 0`);
            }
          } else if (share(HANDLER_PODS[0]) !== 1 || share(HANDLER_PODS[1]) !== 0) {
            // The producer only knows the first replica's address: all of it lands there.
            problems.push(`${transport}: shares ${HANDLER_PODS.map((pod) => `${pod}=${share(pod)}`).join(", ")}, expected 1 and 0`);
          }
        }
        return { problems, shown };
      }, SETTLE_MS);
      console.log(`"${panel!.title}", last values:\n  ${round.shown.join("\n  ")}`);
      expect(round.problems).toEqual([]);
    },
    SETTLE_MS + 30_000,
  );
});
