// report.html from a real (quick) compare run, opened in headless Chromium as a person
// would: every plot drawn with its series, the verdict and the header's facts shown,
// nothing fetched from the network; a screenshot is left in the results folder.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRAFANA_COLOURS } from "../../tools/compare/src/html/colours.ts";
import { createTestVhost, type TestVhost } from "../support/broker.ts";
import { ROOT } from "../support/process.ts";
import { compare } from "../support/compare.ts";
import { openOffline, type OfflinePage } from "./browser.ts";

// These callbacks run in the page; the project's typecheck has no DOM library.
declare const getComputedStyle: (element: unknown) => { stroke: string };

const TRANSPORTS = ["grpc", "connect", "amqp"];
const PAYLOADS = ["64", "1024"];

/** `#5794F2` → `rgb(87, 148, 242)`, as getComputedStyle reports it. */
function rgb(hex: string): string {
  const [r, g, b] = [1, 3, 5].map((at) => parseInt(hex.slice(at, at + 2), 16));
  return `rgb(${r}, ${g}, ${b})`;
}

// The run stays in results/ (git-ignored) with its screenshot, for a person to look at;
// each test run replaces the previous one.
const out = join(ROOT, "results", "report-test");
let vhost: TestVhost;
let folder: string;
let browser: OfflinePage;
let compareStderr: string;

beforeAll(async () => {
  rmSync(out, { recursive: true, force: true });
  vhost = await createTestVhost("switchyard-report");
  const run = await compare(["--quick", "--payloads", PAYLOADS.join(","), "--amqp-url", vhost.url, "--out", out], 240_000);
  compareStderr = run.stderr;
  expect(run.code, run.stderr).toBe(0);
  folder = join(out, readdirSync(out).find((name) => existsSync(join(out, name, "report.html")))!);
  browser = await openOffline();
  await browser.page.goto(pathToFileURL(join(folder, "report.html")).href);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await vhost?.delete();
});

describe("report.html from a real run", () => {
  it("is named in compare's last line", () => {
    expect(compareStderr.trimEnd().split("\n").at(-1)).toMatch(/report in .+\/report\.html/);
  });

  it("draws a percentile distribution per payload size, one line per transport in the dashboard's colour", async () => {
    const plots = await browser.page.$$eval('svg[data-plot="percentiles"]', (svgs) =>
      svgs.map((svg) => ({
        payload: svg.closest("section")!.getAttribute("data-payload"),
        box: svg.getBoundingClientRect().width * svg.getBoundingClientRect().height,
        lines: [...svg.querySelectorAll("path.series")].map((path) => ({
          name: path.dataset.series,
          length: path.getTotalLength(),
          points: path.parentElement!.querySelectorAll("circle").length,
          stroke: getComputedStyle(path).stroke,
        })),
        legend: [...svg.querySelectorAll(".legend-item text")].map((text) => text.textContent),
        xTicks: [...svg.querySelectorAll(".x-axis .tick")].map((text) => text.textContent),
      })),
    );
    expect(plots.map((plot) => plot.payload)).toEqual(PAYLOADS);
    const colours = { grpc: GRAFANA_COLOURS.blue!, connect: GRAFANA_COLOURS.green!, amqp: GRAFANA_COLOURS.orange! };
    for (const plot of plots) {
      expect(plot.box).toBeGreaterThan(10_000);
      expect(plot.legend).toEqual(TRANSPORTS);
      expect(plot.xTicks).toEqual(["p50", "p90", "p99", "p99.9", "p99.99"]);
      expect(plot.lines.map((line) => line.name)).toEqual(TRANSPORTS);
      for (const line of plot.lines) {
        expect(line.length, line.name).toBeGreaterThan(100);
        // p50 … p99.99: the distribution's 16 points, from the run's histogram.
        expect(line.points, line.name).toBe(16);
        expect(line.stroke).toBe(rgb(colours[line.name as keyof typeof colours]));
      }
    }
  });

  it("draws throughput, CPU on every side and round trip beside one-way latency as bars", async () => {
    const charts = await browser.page.$$eval("svg[data-plot]:not([data-plot=percentiles])", (svgs) =>
      svgs.map((svg) => {
        const bars: Record<string, number> = {};
        for (const bar of svg.querySelectorAll("rect.bar")) {
          if (bar.getBBox().height > 0) bars[bar.dataset.series!] = (bars[bar.dataset.series!] ?? 0) + 1;
        }
        return {
          kind: svg.dataset.plot,
          payload: svg.closest("section")!.getAttribute("data-payload"),
          bars,
          legend: [...svg.querySelectorAll(".legend-item text")].map((text) => text.textContent),
        };
      }),
    );
    expect(charts.map((chart) => `${chart.kind} ${chart.payload}`)).toEqual(PAYLOADS.flatMap((payload) => [`throughput ${payload}`, `cpu ${payload}`, `latency ${payload}`]));
    for (const chart of charts) {
      if (chart.kind === "throughput") {
        expect(chart.legend).toEqual(TRANSPORTS);
        expect(chart.bars).toEqual({ grpc: 1, connect: 1, amqp: 1 });
      } else if (chart.kind === "cpu") {
        expect(chart.legend).toEqual(["producer", "handler", "broker"]);
        // The broker's CPU belongs to AMQP alone; the local broker's process is readable here.
        expect(chart.bars).toEqual({ producer: 3, handler: 3, rabbitmq: 1 });
      } else {
        expect(chart.legend).toEqual(["round trip p50", "round trip p99", "one-way p50", "one-way p99"]);
        expect(chart.bars).toEqual({ "producer-p50": 3, "producer-p99": 3, "handler-p50": 3, "handler-p99": 3 });
      }
    }
  });

  it("shows the verdict and the method and machine in the header", async () => {
    const page = browser.page;
    expect(await page.getAttribute("section.verdict", "data-verdict")).toBe("pass");
    expect(await page.isVisible(".banner.pass")).toBe(true);
    expect(await page.locator(".verdict-row[data-verdict=pass]").count()).toBe(TRANSPORTS.length * PAYLOADS.length);
    const fact = (name: string) => page.textContent(`dd[data-fact="${name}"]`);
    expect(await fact("method")).toMatch(/^closed loop, 32 concurrent senders · 1 s measured per phase · 0\.25 s warm-up/);
    expect(await fact("machine")).toMatch(/^\d+ × .+, \d+ GiB$/);
    expect(await fact("Node")).toBe(process.version);
    expect(await fact("RabbitMQ")).toMatch(/^RabbitMQ \d+\.\d+\.\d+/);
  });

  it("compared with a baseline run, prints each figure's change and plots it per payload and transport", async () => {
    const rerun = await compare(["--quick", "--payloads", PAYLOADS.join(","), "--amqp-url", vhost.url, "--out", join(out, "rerun"), "--baseline", folder], 240_000);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain(`against ${folder} (`);
    expect(rerun.stdout).toMatch(/^\s+connect\s+1 KiB\s+p99\s/m);
    const rerunFolder = join(out, "rerun", readdirSync(join(out, "rerun"))[0]!);
    const page = await openOffline();
    try {
      await page.page.goto(pathToFileURL(join(rerunFolder, "report.html")).href);
      const plots = await page.page.$$eval('section.baseline svg[data-plot="baseline"]', (svgs) =>
        svgs.map((svg) => ({
          legend: [...svg.querySelectorAll(".legend-item text")].map((text) => text.textContent),
          bars: svg.querySelectorAll("rect.bar").length,
        })),
      );
      // Per payload: msgs/s, p50, p99 and the producer's and handler's CPU, for each transport.
      expect(plots).toEqual(PAYLOADS.map(() => ({ legend: TRANSPORTS, bars: 5 * TRANSPORTS.length })));
      expect(page.refused).toEqual([]);
    } finally {
      await page.close();
    }
  }, 300_000);

  it("a stepped rate reports a knee per transport, in the text and in steps.html", async () => {
    const stepped = await compare(["--quick", "--payloads", "64", "--rate", "20..40", "--steps", "2", "--amqp-url", vhost.url, "--out", join(out, "steps")], 240_000);
    expect(stepped.stderr).toContain("compare: step 2/2 at 40 msg/s:");
    // Which knee depends on how busy the machine is; every answer kneeText can give is fine.
    for (const transport of TRANSPORTS) expect(stepped.stdout).toMatch(new RegExp(`^  ${transport} 64 B: (none: the lowest rate already failed|≥ 40 msg/s|20 msg/s) `, "m"));
    const stepsFolder = join(out, "steps", readdirSync(join(out, "steps"))[0]!);
    expect(readdirSync(stepsFolder).filter((name) => name.startsWith("step-")).sort()).toEqual(["step-1-20", "step-2-40"]);
    const page = await openOffline();
    try {
      await page.page.goto(pathToFileURL(join(stepsFolder, "steps.html")).href);
      const plot = await page.page.$eval('svg[data-plot="knee"]', (svg) => ({
        lines: [...svg.querySelectorAll("path.series")].map((path) => [path.dataset.series, path.getTotalLength() > 50]),
        legend: [...svg.querySelectorAll(".legend-item text")].map((text) => text.textContent),
        bound: svg.querySelectorAll("line.bound").length,
      }));
      expect(plot).toEqual({ lines: TRANSPORTS.map((transport) => [transport, true]), legend: TRANSPORTS, bound: 1 });
      expect(await page.page.locator("td.knee-rate").count()).toBe(TRANSPORTS.length);
      expect(page.refused).toEqual([]);
    } finally {
      await page.close();
    }
  }, 300_000);

  it("loads nothing but itself, and leaves a screenshot in the results folder", async () => {
    expect(browser.refused).toEqual([]);
    const screenshot = join(folder, "report.png");
    await browser.page.screenshot({ path: screenshot, fullPage: true });
    expect(existsSync(screenshot)).toBe(true);
  });
});
