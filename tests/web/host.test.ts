/**
 * The Host header cannot reroute a request (issue 10, item 2). Elysia 1.4 takes the path to
 * start at `url.indexOf("/", 11)` and Bun builds the URL from the Host header, so `Host: a`
 * once made `/login/metrics` serve `/metrics` and `POST /login/chatops/message` reach the
 * webhook — through docs/login.md's nginx example, which proxies only `/login/`, that exposed
 * both to the internet. Checked through a real socket (raw HTTP, so any Host can be sent) and
 * in-process through `app.handle`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import * as v from "valibot";
import type { StatusSource } from "../../src/bot/status.ts";
import { WebhookSchema, WebSchema } from "../../src/config/schema.ts";
import type { Announcement } from "../../src/delivery/announcement.ts";
import { setLogSink } from "../../src/lib/log.ts";
import { metricsPlugin } from "../../src/web/metrics.ts";
import { createServer, requestTarget, routable, type WebServer } from "../../src/web/server.ts";
import { webhookPlugin } from "../../src/web/webhook.ts";

setLogSink(() => {});
const TOKEN = "host-test-webhook-token-0123456789abcdef";

const status: StatusSource = {
  version: "test",
  startedAt: 0,
  chat: () => ({ state: "connected", since: 0 }) as ReturnType<StatusSource["chat"]>,
  st2: () => ({ state: "ok" }),
  aliases: () => 0,
  stream: () => ({ state: "open" }),
  outbox: () => ({ pending: 0, dead: 0, delivered: 0, failedAttempts: 0 }),
};
const queued: Announcement[] = [];
const outbox = {
  enqueue: (a: Announcement) => queued.push(a),
  enqueueWith: (a: Announcement, _s: unknown, record: () => void) => (record(), queued.push(a)),
};
const ledger = { seen: () => false, record: () => true };

let server: WebServer;
let port: number;

beforeAll(async () => {
  server = createServer({
    config: v.parse(WebSchema, { port: 0 }),
    plugins: [webhookPlugin({ config: v.parse(WebhookSchema, { token: TOKEN }), outbox, replay: ledger }), metricsPlugin(status)],
  });
  port = (await server.listen()).port;
});
afterAll(() => server.stop());

/** Sends `head` (request line and headers, no final blank line) and `body` raw; the status and body. */
function raw(head: string, body = ""): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.end(`${head}\r\nConnection: close\r\n\r\n${body}`));
    let data = "";
    socket.on("data", (chunk) => (data += chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const [top = "", ...rest] = data.split("\r\n\r\n");
      resolve({ status: Number(top.split(" ")[1]), body: rest.join("\r\n\r\n") });
    });
  });
}

const HOSTS: [string, string | undefined][] = [
  ["absent", undefined],
  ["empty", ""],
  ["1 char", "a"],
  ["2 chars", "ab"],
  ["3 chars", "abc"],
  ["4 chars", "abcd"],
  ["with a slash", "a/b"],
  ["with a query", "a?x"],
  ["with a space", "a b"],
  ["with userinfo", "x@y"],
  ["bad port", "h:99999"],
  ["IPv6", "[::1]"],
];

const hostLine = (host: string | undefined) => (host === undefined ? "" : `\r\nHost: ${host}`);

describe("through a real socket (nginx-style paths under /login/)", () => {
  for (const [name, host] of HOSTS) {
    test(`Host ${name}: GET /login/metrics never serves the metrics`, async () => {
      const res = await raw(`GET /login/metrics HTTP/1.1${hostLine(host)}`);
      expect(res.body).not.toContain("st2bot_outbox_pending");
      expect([400, 404]).toContain(res.status);
    });

    test(`Host ${name}: POST /login/chatops/message never reaches the webhook`, async () => {
      const body = JSON.stringify({ channel: "#ops", message: "rerouted" });
      const head = `POST /login/chatops/message HTTP/1.1${hostLine(host)}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}`;
      const res = await raw(head, body);
      expect([400, 404]).toContain(res.status);
      expect(queued).toHaveLength(0);
    });
  }

  test("HTTP/1.0 without a Host: still routed on the real path", async () => {
    expect((await raw("GET /login/metrics HTTP/1.0")).body).not.toContain("st2bot_outbox_pending");
  });

  test("the real paths still work whatever the Host", async () => {
    for (const host of ["a", "st2bot.example.com", ""]) {
      const metrics = await raw(`GET /metrics HTTP/1.1\r\nHost: ${host}`);
      expect(metrics.status).toBe(200);
      expect(metrics.body).toContain("st2bot_outbox_pending");
    }
    const body = JSON.stringify({ channel: "#ops", message: "direct" });
    const res = await raw(`POST /chatops/message HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}`, body);
    expect(res.status).toBe(202);
    expect(queued.map((a) => a.message)).toEqual(["direct"]);
    queued.length = 0;
  });

  test("the query string survives the re-addressing", async () => {
    expect((await raw("GET /health?x=1/2 HTTP/1.1\r\nHost: a")).status).toBe(200);
  });
});

describe("in-process, app.handle", () => {
  test("a URL whose host is too short for Elysia's path derivation is refused, never rerouted", async () => {
    for (const host of ["a", "ab", "abc"]) {
      const metrics = await server.app.handle(new Request(`http://${host}/login/metrics`));
      expect(metrics.status).toBe(400);
      expect(await metrics.text()).not.toContain("st2bot_outbox_pending");
      const hook = await server.app.handle(
        new Request(`http://${host}/login/chatops/message`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: '{"channel":"#ops","message":"x"}' }),
      );
      expect(hook.status).toBe(400);
    }
    expect(queued).toHaveLength(0);
    expect((await server.app.handle(new Request("http://abcd/metrics"))).status).toBe(200);
  });

  test("requestTarget and routable", () => {
    expect(requestTarget("http://a/login/metrics?x=/y")).toBe("/login/metrics?x=/y");
    expect(requestTarget("/login/metrics")).toBe("/login/metrics");
    expect(requestTarget("http://a?x")).toBe("/?x");
    expect(routable("http://a/login/metrics")).toBe(false);
    expect(routable("/login/metrics")).toBe(false);
    expect(routable("http://st2bot.invalid/login/metrics")).toBe(true);
  });
});
