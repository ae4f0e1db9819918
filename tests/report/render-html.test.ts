// renderHtml on the reports it must not trip over: older files, skipped and silent phases.
import { describe, expect, it } from "vitest";
import { renderHtml } from "../../tools/compare/src/html/render-html.ts";
import type { ReportData } from "../../tools/compare/src/html/report-data.ts";
import type { Row } from "../../tools/compare/src/report.ts";

function row(transport: string, state: string, figures: Partial<Row> = {}): Row {
  return {
    transport, payloadBytes: 64, state, throughput: 100, p50Ms: 1, p90Ms: 2, p99Ms: 4, p999Ms: 8, maxMs: 9, errors: 0, outcomes: { ok: 100 },
    notSent: 0, scheduleLagP50Ms: undefined, scheduleLagP99Ms: undefined, lost: 0, duplicated: 0, producerCpuMsPer1k: undefined,
    handlerCpuMsPer1k: undefined, brokerCpuMsPer1k: undefined, bytesPerMessage: 100, handlerP50Ms: undefined, handlerP99Ms: undefined,
    sent: 100, acknowledged: 100, received: 100, elapsedMs: 1000, notes: [], replicas: [], lossBasis: "handler ledger", ...figures,
  };
}

const report = (rows: Row[]): ReportData => ({
  command: "npm run compare", startedAt: "2026-12-02T07:00:00.000Z", target: "t", machine: "2 × CPU, 1 GiB", node: "v24.21.0",
  rows, run: { state: "RUN_STATE_SUCCEEDED", spec: { rate: 1000, messages: "500", transports: ["grpc", "amqp"], payloadBytes: [64] }, phases: rows.map(() => ({})) },
});

describe("renderHtml", () => {
  it("draws a report.json from before the distribution from its four named percentiles", () => {
    const html = renderHtml(report([row("grpc", "done")]));
    const path = /<path class="series" data-series="grpc" d="([^"]+)"/.exec(html)![1]!;
    expect(path.split("L")).toHaveLength(4);
    expect(html).toContain('data-fact="method">open loop at 1,000 msg/s');
    expect(html).toContain("500 measured messages per phase");
    expect(html).toContain('data-fact="RabbitMQ">unknown');
  });

  it("leaves skipped phases out of the plots, shows missing figures as dashes, and a failed send as a failing verdict", () => {
    const html = renderHtml(report([row("grpc", "done", { errors: 3 }), row("amqp", "skipped")]));
    expect(html.match(/<svg class="chart" data-plot="/g)).toHaveLength(4);
    expect(html).not.toMatch(/<path class="series" data-series="amqp"/);
    expect(html).toMatch(/<text class="missing"[^>]*>–<\/text>/);
    expect(html).toContain('<body data-verdict="fail">');
  });

  it("renders a run with no phase measured without a plot", () => {
    const html = renderHtml(report([]));
    expect(html).not.toContain("<svg");
    expect(html).toContain('<body data-verdict="unknown">');
  });
});
