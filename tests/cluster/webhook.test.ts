/**
 * The webhook in cluster mode, through the real plugin and a real redis-server: 202 with the
 * stream entry id once Redis confirmed; a signed post replayed to another instance is 401; 503
 * (never 202) while Redis is unreachable.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import * as v from "valibot";
import Redis from "ioredis";
import { SharedIntake } from "../../src/cluster/intake.ts";
import { WebhookSchema, WebSchema } from "../../src/config/schema.ts";
import { openDatabase } from "../../src/store/db.ts";
import { createServer } from "../../src/web/server.ts";
import { webhookPlugin } from "../../src/web/webhook.ts";
import { haveRedis, RedisServer } from "../support/redis.ts";

const TOKEN = "cluster-webhook-token-0123456789abcdef";
const SECRET = "cluster-hmac-secret-0123456789abcdefgh";

describe.skipIf(!haveRedis())("webhook on the shared outbox (real Redis)", () => {
  let server: RedisServer;
  const clients: Redis[] = [];
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server.close();
  });

  const instance = async () => {
    const redis = new Redis({ port: server.port, host: "127.0.0.1", enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    redis.on("error", () => undefined);
    clients.push(redis);
    while (redis.status !== "ready") await Bun.sleep(5);
    const intake = new SharedIntake({ redis, prefix: "wh", db: openDatabase(":memory:"), dedupeWindowMs: 30_000 });
    const config = v.parse(WebhookSchema, { token: TOKEN, hmac_secret: SECRET });
    const web = createServer({ config: v.parse(WebSchema, {}), plugins: [webhookPlugin({ config, outbox: intake, replay: intake.replayLedger(), peerAddress: () => "127.0.0.1" })] });
    return web.app;
  };
  const body = JSON.stringify({ channel: "#ops", message: "deployed" });
  const signed = () => {
    const ts = String(Math.floor(Date.now() / 1000));
    return { "x-st2bot-timestamp": ts, "x-st2bot-signature": `sha256=${createHmac("sha256", SECRET).update(`${ts}.${body}`).digest("hex")}` };
  };
  const post = (headers: Record<string, string>) => new Request("http://localhost/chatops/message", { method: "POST", body, headers: { "content-type": "application/json", ...headers } });

  test("202 with the entry id; the same signed post on another instance is refused", async () => {
    const [a, b] = [await instance(), await instance()];
    const ok = await a.handle(post({ authorization: `Bearer ${TOKEN}` }));
    expect(ok.status).toBe(202);
    expect((await ok.json()).id).toMatch(/^\d+-\d+$/);
    const headers = signed();
    expect((await a.handle(post(headers))).status).toBe(202);
    expect((await b.handle(post(headers))).status).toBe(401);
    expect(server.cli("XLEN", "wh:outbox")).toBe("2");
  });

  test("Redis unreachable: 503, never 202", async () => {
    const a = await instance();
    await server.kill("SIGKILL");
    await Bun.sleep(100);
    const r = await a.handle(post({ authorization: `Bearer ${TOKEN}` }));
    expect(r.status).toBe(503);
    await server.run();
  });
});

describe.skipIf(!haveRedis())("webhook with wait_replicas (real primary and replica)", () => {
  test("202 once the replica confirmed; 503 when no replica confirms in time", async () => {
    const primary = await RedisServer.start();
    const replica = await RedisServer.start({ replicaOf: primary.port });
    const clients: Redis[] = [];
    try {
      const connect = async () => {
        const r = new Redis({ port: primary.port, host: "127.0.0.1", enableOfflineQueue: false, maxRetriesPerRequest: 1 });
        r.on("error", () => undefined);
        clients.push(r);
        while (r.status !== "ready") await Bun.sleep(5);
        return r;
      };
      while (!replica.cli("INFO", "replication").includes("master_link_status:up")) await Bun.sleep(20);
      const intake = new SharedIntake({ redis: await connect(), waitRedis: await connect(), waitReplicas: 1, waitTimeoutMs: 2_000, prefix: "wr", db: openDatabase(":memory:"), dedupeWindowMs: 30_000 });
      const config = v.parse(WebhookSchema, { token: TOKEN });
      const app = createServer({ config: v.parse(WebSchema, {}), plugins: [webhookPlugin({ config, outbox: intake, replay: intake.replayLedger(), peerAddress: () => "127.0.0.1" })] }).app;
      const post = () => app.handle(new Request("http://localhost/chatops/message", { method: "POST", body: JSON.stringify({ channel: "#ops", message: "m" }), headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` } }));
      expect((await post()).status).toBe(202);
      expect(replica.cli("XLEN", "wr:outbox")).toBe("1");
      await replica.kill("SIGKILL");
      expect((await post()).status).toBe(503);
    } finally {
      for (const c of clients) c.disconnect();
      await replica.close();
      await primary.close();
    }
  });
});
