import { createClient, createHandlerContext, createRouterTransport } from "@connectrpc/connect";
import { universalRequestFromNodeRequest } from "@connectrpc/connect-node";
import { create } from "@bufbuild/protobuf";
import { HandlerService, ReceiptSchema } from "@switchyard/contracts";
import { readdirSync, readFileSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { connect as http2Connect, createServer as createHttp2Server, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { eventually } from "../support/broker.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

// patches/ holds small fixes to dependencies, applied by patch-package at install. Each
// test here fails when its patch no longer applies (a new version of the package, a
// reinstall without the postinstall step), so a lost patch cannot go unnoticed.
describe("patches/", () => {
  it("names only installed versions: patch-package refuses a patch for another version", () => {
    for (const file of readdirSync(`${ROOT}patches`).filter((name) => name.endsWith(".patch"))) {
      const match = /^(.+)\+([^+]+)\.patch$/.exec(file)!;
      const name = match[1]!.replace("+", "/");
      const installed = JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, "utf8")) as { version: string };
      expect({ file, version: installed.version }).toEqual({ file, version: match[2] });
    }
  });

  it("every line a patch adds is in the installed package", () => {
    for (const file of readdirSync(`${ROOT}patches`).filter((name) => name.endsWith(".patch"))) {
      const sections = readFileSync(`${ROOT}patches/${file}`, "utf8").split(/^diff --git a\/(\S+) b\/\S+$/m).slice(1);
      expect(sections.length, file).toBeGreaterThan(0);
      for (let i = 0; i < sections.length; i += 2) {
        const installed = readFileSync(`${ROOT}${sections[i]}`, "utf8");
        const added = sections[i + 1]!.split("\n").filter((line) => line.startsWith("+") && !line.startsWith("+++")).map((line) => line.slice(1));
        for (const line of added) expect(installed.includes(line), `${sections[i]}: ${line}`).toBe(true);
      }
    }
  });

  it("@connectrpc/connect: client calls that finish share one AbortError on their signal", async () => {
    const signals: AbortSignal[] = [];
    const transport = createRouterTransport(
      (router) => router.service(HandlerService, { handle: () => ({ receipt: create(ReceiptSchema, { workId: "w" }) }) }),
      { transport: { interceptors: [(next) => (request) => (signals.push(request.signal), next(request))] } },
    );
    const client = createClient(HandlerService, transport);
    await client.handle({});
    await client.handle({});
    expect(signals.map((signal) => signal.aborted)).toEqual([true, true]);
    expect((signals[0]!.reason as DOMException).name).toBe("AbortError");
    expect(signals[1]!.reason).toBe(signals[0]!.reason);
  });

  it("@connectrpc/connect: contexts ended without a reason share one AbortError", () => {
    const method = HandlerService.method.handle;
    const context = () =>
      createHandlerContext({ service: HandlerService, method, protocolName: "grpc", requestMethod: "POST", url: "http://localhost/", timeoutMs: 1000 } as never);
    const first = context();
    const second = context();
    first.abort();
    second.abort();
    expect(first.signal.reason).toBeInstanceOf(DOMException);
    expect((first.signal.reason as DOMException).name).toBe("AbortError");
    // Unpatched, each abort() builds a DOMException of its own, stack trace included.
    expect(second.signal.reason).toBe(first.signal.reason);
  });

  it("@connectrpc/connect: a reason given is kept", () => {
    const context = createHandlerContext({ service: HandlerService, method: HandlerService.method.handle, protocolName: "grpc", requestMethod: "POST", url: "http://localhost/" } as never);
    const reason = new Error("mine");
    context.abort(reason);
    expect(context.signal.reason).toBe(reason);
  });

  describe("@connectrpc/connect-node: requests that close normally share one AbortError", () => {
    const closers: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const close of closers.splice(0)) await close();
    });

    it("over HTTP/1.1", async () => {
      const signals: AbortSignal[] = [];
      const server = createHttpServer((request: IncomingMessage, response: ServerResponse) => {
        signals.push(universalRequestFromNodeRequest(request, response, undefined, undefined).signal);
        response.end("ok");
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      closers.push(() => new Promise((resolve) => server.close(() => resolve())));
      const { port } = server.address() as AddressInfo;
      for (let i = 0; i < 2; i++) {
        await new Promise<void>((resolve, reject) => {
          httpRequest({ port, host: "127.0.0.1", agent: false }, (response) => response.resume().on("end", resolve)).on("error", reject).end();
        });
      }
      await eventually(() => signals.length === 2 && signals.every((signal) => signal.aborted), 5_000, 10);
      expect((signals[0]!.reason as DOMException).name).toBe("AbortError");
      expect(signals[1]!.reason).toBe(signals[0]!.reason);
    });

    it("over HTTP/2", async () => {
      const signals: AbortSignal[] = [];
      const server = createHttp2Server((request: Http2ServerRequest, response: Http2ServerResponse) => {
        signals.push(universalRequestFromNodeRequest(request, undefined, undefined).signal);
        response.end("ok");
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as AddressInfo;
      const session = http2Connect(`http://127.0.0.1:${port}`);
      closers.push(async () => {
        session.close();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      });
      for (let i = 0; i < 2; i++) {
        await new Promise<void>((resolve, reject) => {
          const stream = session.request({ ":path": "/" }).end();
          stream.on("error", reject).resume().on("end", resolve);
        });
      }
      await eventually(() => signals.length === 2 && signals.every((signal) => signal.aborted), 5_000, 10);
      expect((signals[0]!.reason as DOMException).name).toBe("AbortError");
      expect(signals[1]!.reason).toBe(signals[0]!.reason);
    });
  });
});
