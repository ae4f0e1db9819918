import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnv } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestVhost, eventually, management, type TestVhost } from "../support/broker.ts";
import { ROOT, startService, type ServiceProcess } from "../support/process.ts";
import { createPki, createSecretMount, type Pki, type TestCa } from "../security/support/pki.ts";
import { HELMS, TLS_MOUNT, get, render, type Manifest } from "./support.ts";

// The chart runs two scripts of its own inside pods: the `helm test` hook that sends the
// handler one Work over Connect JSON, and the init container that turns a RabbitMQ
// Cluster Operator Secret's user name and password into AMQP_URL. Both are taken from
// the rendered chart and run here against a real handler and the real broker.

let vhost: TestVhost;
const dir = mkdtempSync(join(tmpdir(), "switchyard-pod-scripts-"));

beforeAll(async () => {
  vhost = await createTestVhost("switchyard-chart");
});

afterAll(async () => {
  await vhost?.delete();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs `node <args>` like a container would, with a minimal environment; `onStderr` sees
 * each chunk of stderr as it comes.
 */
function node(
  args: string[],
  env: Record<string, string> = {},
  onStderr: (text: string) => void = () => {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? "", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      onStderr(stderr);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.each(HELMS)("$name", ({ bin }) => {
  describe("helm test hook", () => {
    let hook: Manifest;
    let handler: ServiceProcess;
    let impostor: Server;
    let impostorUrl: string;

    beforeAll(async () => {
      const { objects } = await render(bin);
      hook = get(objects, "Pod", "switchyard-test-handler").spec.containers[0];
      handler = await startService("handler", { AMQP_URL: vhost.url });
      // Answers every request with a well-formed but wrong receipt.
      impostor = createServer((_request, response) => {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify({ receipt: { workId: "someone-else", handlerId: "x", handledAt: "2020-01-01T00:00:00Z" } }));
      });
      await new Promise<void>((resolve) => impostor.listen(0, "127.0.0.1", resolve));
      impostorUrl = `http://127.0.0.1:${(impostor.address() as { port: number }).port}`;
    });

    afterAll(async () => {
      await handler?.stop();
      await new Promise((resolve) => impostor?.close(resolve));
    });

    it("calls the handler's Service on its HTTP port", () => {
      expect(hook.command.slice(0, 2)).toEqual(["node", "-e"]);
      expect(hook.command.slice(3)).toEqual(["http://switchyard-handler:8080", ""]);
    });

    it("passes against a real handler: the Receipt names the Work", async () => {
      const result = await node(["-e", hook.command[2], handler.httpUrl, ""]);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^receipt from handler \S+ over http: \{"workId":"helm-test-\d+"/);
    });

    it("fails on a wrong receipt and when nothing answers", async () => {
      const wrong = await node(["-e", hook.command[2], impostorUrl, ""]);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain("unexpected answer: HTTP 200");
      const closed = await node(["-e", hook.command[2], `http://127.0.0.1:${await freePort()}`, ""]);
      expect(closed.code).toBe(1);
      // The cause, with its code; after a bounded number of tries.
      expect(closed.stderr).toContain("request failed: ECONNREFUSED connect ECONNREFUSED");
      expect(closed.stderr).toContain("attempt 9 of 10 failed");
      expect(closed.stderr).not.toContain("attempt 10 of 10 failed");
    });

    it("retries refused connections until the Service answers (kube-proxy's first moments)", async () => {
      const port = await freePort();
      let late: Server | undefined;
      // The handler appears only once the hook has been refused at least once.
      const result = await node(["-e", hook.command[2], `http://127.0.0.1:${port}`, ""], {}, (stderr) => {
        if (late || !stderr.includes("attempt 1 of 10 failed")) return;
        late = createServer((request, response) => {
          let body = "";
          request.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
          request.on("end", () => {
            const { work } = JSON.parse(body);
            response.writeHead(200, { "content-type": "application/json" });
            response.end(JSON.stringify({ receipt: { workId: work.id, handlerId: "late", handledAt: new Date().toISOString() } }));
          });
        }).listen(port, "127.0.0.1");
      });
      await new Promise((resolve) => late?.close(resolve));
      expect(result.stderr).toMatch(/attempt 1 of 10 failed: ECONNREFUSED connect ECONNREFUSED/);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^receipt from handler late over http: /);
    });
  });

  describe("helm test hook with tls.enabled and clientAuth", () => {
    let pki: Pki;
    let hook: Manifest;
    let handler: ServiceProcess;
    let producerMount: string;
    let ca: TestCa;

    beforeAll(async () => {
      const { objects } = await render(bin, { files: ["charts/switchyard/ci/tls-values.yaml"] });
      hook = get(objects, "Pod", "switchyard-test-handler").spec.containers[0];
      pki = createPki();
      ca = await pki.createCa("hook-ca");
      const server = await ca.issue({ commonName: "switchyard-handler", altNames: ["DNS:localhost", "IP:127.0.0.1"] });
      const producer = await ca.issue({ commonName: "switchyard-producer" });
      const handlerMount = createSecretMount(pki.dir, "handler", { "tls.crt": server.cert, "tls.key": server.key, "ca.crt": ca.cert });
      producerMount = createSecretMount(pki.dir, "producer", { "tls.crt": producer.cert, "tls.key": producer.key, "ca.crt": ca.cert }).dir;
      // The handler as the chart configures it under ci/tls-values.yaml.
      handler = await startService("handler", {
        AMQP_URL: vhost.url,
        TLS_DIR: handlerMount.dir,
        TLS_CLIENT_CA: `${handlerMount.dir}/ca.crt`,
        TLS_ALLOWED_CLIENTS: "CN=switchyard-producer",
      });
    });

    afterAll(async () => {
      await handler?.stop();
      pki?.destroy();
    });

    it("calls the handler over HTTPS with the producer's Secret mounted", () => {
      expect(hook.command.slice(3)).toEqual(["https://switchyard-handler:8080", TLS_MOUNT]);
      expect(hook.volumeMounts).toEqual([{ name: "tls", mountPath: TLS_MOUNT, readOnly: true }]);
    });

    it("passes against a handler requiring client certificates, presenting the producer's", async () => {
      expect(handler.httpUrl).toMatch(/^https:/);
      const result = await node(["-e", hook.command[2], handler.httpUrl, producerMount]);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^receipt from handler \S+ over https: \{"workId":"helm-test-\d+"/);
    });

    it("fails, saying why, when the handler's certificate is not from the Secret's CA", async () => {
      const other = await pki.createCa("other-ca");
      const issued = await other.issue({ commonName: "switchyard-producer" });
      const stranger = createSecretMount(pki.dir, "stranger", { "tls.crt": issued.cert, "tls.key": issued.key, "ca.crt": other.cert });
      const result = await node(["-e", hook.command[2], handler.httpUrl, stranger.dir]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^request failed: (SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE) /);
      expect(result.stderr, "a refused certificate is not retried").not.toContain("attempt 1 of 10");
    });
  });

  describe("broker URL from a Secret's credentials (RabbitMQ Cluster Operator)", () => {
    // A user and password as an operator might generate them, full of characters that
    // must be percent-encoded in a URL.
    const username = `default_user_${randomUUID().slice(0, 8)}+ops@x`;
    const password = `p@ss/w:rd#?+= %&"'$\`${randomUUID().slice(0, 8)}`;
    let deployment: Manifest;

    beforeAll(async () => {
      const { objects } = await render(bin, { files: ["charts/switchyard/ci/operator-values.yaml"] });
      deployment = get(objects, "Deployment", "switchyard-handler").spec.template.spec;
      await management(`/users/${encodeURIComponent(username)}`, {
        method: "PUT",
        body: JSON.stringify({ password, tags: "" }),
      });
      await management(`/permissions/${encodeURIComponent(vhost.name)}/${encodeURIComponent(username)}`, {
        method: "PUT",
        body: JSON.stringify({ configure: ".*", write: ".*", read: ".*" }),
      });
    });

    afterAll(async () => {
      await management(`/users/${encodeURIComponent(username)}`, { method: "DELETE" });
    });

    it("composes a URL the handler logs in with, and no credential reaches a log", async () => {
      const init = deployment.initContainers.find((c: Manifest) => c.name === "amqp-url");
      const [command, flag, script, secretDir, envFile, scheme, host, port, vhostArg, userKey, passwordKey] = init.command as string[];
      expect([command, flag, secretDir, envFile, scheme, host, port, vhostArg, userKey, passwordKey]).toEqual([
        "node",
        "-e",
        "/var/run/secrets/switchyard/amqp",
        "/run/switchyard/amqp/url.env",
        "amqp",
        "switchyard-broker.switchyard.svc",
        "5672",
        "/",
        "username",
        "password",
      ]);
      // The Secret volume as the kubelet mounts it: one file per key; a trailing newline
      // (kubectl create secret --from-file) is dropped.
      const secrets = mkdtempSync(join(dir, "secret-"));
      writeFileSync(join(secrets, "username"), username);
      writeFileSync(join(secrets, "password"), `${password}\n`);
      const out = join(dir, `url-${bin.endsWith("3") ? 3 : 4}.env`);
      const result = await node(["-e", script!, secrets, out, scheme!, "127.0.0.1", port!, vhost.name, userKey!, passwordKey!]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout + result.stderr).not.toContain(password.slice(0, 6));
      const url = new URL(parseEnv(readFileSync(out, "utf8")).AMQP_URL!);
      expect([decodeURIComponent(url.username), decodeURIComponent(url.password), decodeURIComponent(url.pathname.slice(1))]).toEqual([
        username,
        password,
        vhost.name,
      ]);

      // The handler container's own command, with the file where the emptyDir would be.
      const main = deployment.containers[0];
      const args = (main.command as string[]).slice(1).map((arg) => arg.replace("/run/switchyard/amqp/url.env", out));
      const [httpPort, h2cPort, opsPort] = [await freePort(), await freePort(), await freePort()];
      const env = Object.fromEntries((main.env as Manifest[]).map((v) => [v.name, v.value]));
      expect(env.AMQP_URL, "the URL comes from the file only").toBeUndefined();
      const child = spawn(process.execPath, args, {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? "", ...env, HTTP_PORT: String(httpPort), H2C_PORT: String(h2cPort), OPS_PORT: String(opsPort), BIND_HOST: "127.0.0.1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      try {
        // Ready means the broker subscription is live: the login worked.
        await eventually(async () => (await fetch(`http://127.0.0.1:${opsPort}/readyz`)).status === 200, 20_000, 200).catch(
          (error: unknown) => {
            throw new Error(`handler never ready: ${String(error)}\n${output}`);
          },
        );
        // The management API lists connections once their first stats arrive (every 5 s).
        const users = await eventually(async () => {
          const connections = (await management(`/vhosts/${encodeURIComponent(vhost.name)}/connections`)) as Array<{ user: string }>;
          return connections.length > 0 && connections.map((c) => c.user);
        }, 20_000, 500);
        expect(users).toContain(username);
      } finally {
        child.kill("SIGTERM");
        expect(await exited).toBe(0);
      }
      expect(output).not.toContain(password.slice(0, 6));
    }, 60_000);
  });
});
