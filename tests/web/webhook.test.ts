import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { MemoryBackend } from "../../src/chat/memory.ts";
import { parseConfig } from "../../src/config/load.ts";
import { WebhookSchema, WebSchema } from "../../src/config/schema.ts";
import { ConfigError } from "../../src/lib/errors.ts";
import type { Announcement } from "../../src/delivery/announcement.ts";
import { Outbox } from "../../src/delivery/outbox.ts";
import { captureLogs } from "../../src/lib/log.ts";
import { createServer } from "../../src/web/server.ts";
import { webhookPlugin } from "../../src/web/webhook.ts";
import { openDatabase } from "../../src/store/db.ts";
import { ReplayStore } from "../../src/store/replay.ts";
import { tempDbPath, tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

const logLines: string[] = [];
captureLogs((line) => logLines.push(line));

const TOKEN = "s3cr3t-webhook-token-0123456789abcdef";
const SECRET = "hmac-shared-secret-value-0123456789abcdef";
const NOW = 1_750_000_000_000;

/** A fake outbox that records what it was given. */
class Recorder {
  readonly queued: Announcement[] = [];
  enqueue(a: Announcement): number {
    this.queued.push(a);
    return this.queued.length;
  }
  enqueueWith(a: Announcement, _source: unknown, record: () => void): number {
    record();
    return this.enqueue(a);
  }
}

/** The replay ledger on a database of its own (in memory). */
const memoryLedger = () => new ReplayStore(openDatabase(":memory:"), () => NOW);

/** The address of an in-process request, as a test names it (the server resolves it from the socket). */
const testPeer = (r: Request) => r.headers.get("x-test-peer") ?? undefined;

function setup(webhook: Record<string, unknown> = { token: TOKEN, hmac_secret: SECRET }, clock = () => NOW) {
  const outbox = new Recorder();
  const config = v.parse(WebhookSchema, webhook);
  const server = createServer({ config: v.parse(WebSchema, {}), plugins: [webhookPlugin({ config, outbox, clock, replay: memoryLedger(), peerAddress: testPeer })] });
  return { app: server.app, outbox };
}

const URL_ = "http://localhost/chatops/message";

function post(body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}): Request {
  return new Request(URL_, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
}

const bearer = (body: string, headers: Record<string, string> = {}) => post(body, { authorization: `Bearer ${TOKEN}`, ...headers });

function sign(body: string, timestamp = String(NOW / 1000), secret = SECRET): Record<string, string> {
  const sig = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  return { "x-st2bot-timestamp": timestamp, "x-st2bot-signature": `sha256=${sig}` };
}

async function call(app: ReturnType<typeof setup>["app"], req: Request): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await app.handle(req);
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

const good = JSON.stringify({ channel: "#ops", message: "deploy finished", user: "alice", whisper: false, extra: { color: "good" } });

describe("POST /chatops/message", () => {
  test("a bearer token queues the message and answers 202 with its id", async () => {
    const { app, outbox } = setup();
    const r = await call(app, bearer(good));
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ id: 1 });
    expect(outbox.queued).toEqual([{ channel: "#ops", message: "deploy finished", user: "alice", extra: { color: "good" } }]);
    expect(r.headers.get("x-frame-options")).toBe("DENY");
    expect(r.headers.get("cache-control")).toBe("no-store");
  });

  test("a valid HMAC signature is accepted once; the replay is refused", async () => {
    const { app, outbox } = setup();
    const headers = sign(good);
    expect((await call(app, post(good, headers))).status).toBe(202);
    const replay = await call(app, post(good, headers));
    expect(replay).toMatchObject({ status: 401, body: { error: "missing or invalid credentials" } });
    expect(outbox.queued).toHaveLength(1);
  });

  test("a signed post that could not be queued (503) can be retried as it is", async () => {
    const config = v.parse(WebhookSchema, { hmac_secret: SECRET });
    let broken = true;
    const enqueue = () => {
      if (broken) throw new Error("database is locked");
      return 7;
    };
    const outbox = { enqueue, enqueueWith: (_a: unknown, _s: unknown, record: () => void) => (enqueue(), record(), 7) };
    const { app } = createServer({ config: v.parse(WebSchema, {}), plugins: [webhookPlugin({ config, outbox, clock: () => NOW, replay: memoryLedger() })] });
    const headers = sign(good);
    expect(await call(app, post(good, headers))).toMatchObject({ status: 503, body: { error: "the message could not be queued; try again" } });
    broken = false;
    expect(await call(app, post(good, headers))).toMatchObject({ status: 202, body: { id: 7 } });
    expect((await call(app, post(good, headers))).status).toBe(401);
  });

  test("wrong credentials of every kind get the same 401 and queue nothing", async () => {
    const { app, outbox } = setup();
    const ts = String(NOW / 1000);
    const cases: Array<Record<string, string>> = [
      {},
      { authorization: "Bearer wrong-token" },
      { authorization: `Basic ${btoa(`x:${TOKEN}`)}` },
      { authorization: `Bearer ${TOKEN}x` },
      sign(good, ts, "another-secret"),
      sign(good + " ", ts),
      { ...sign(good), "x-st2bot-signature": "sha256=zz" },
      { "x-st2bot-timestamp": ts, "x-st2bot-signature": sign(good)["x-st2bot-signature"]!.replace("sha256=", "sha1=") },
      sign(good, String(NOW / 1000 - 301)),
      sign(good, String(NOW / 1000 + 301)),
      sign(good, "not-a-number"),
    ];
    for (const [i, headers] of cases.entries()) {
      // From different addresses: the per-address throttle has its own test.
      const r = await call(app, post(good, { ...headers, "x-test-peer": `192.0.2.${i}` }));
      expect(r).toMatchObject({ status: 401, body: { error: "missing or invalid credentials" } });
    }
    expect(outbox.queued).toHaveLength(0);
  });

  test("a timestamp inside the allowed skew is accepted", async () => {
    const { app } = setup();
    expect((await call(app, post(good, sign(good, String(NOW / 1000 - 299))))).status).toBe(202);
  });

  test("the signature covers the exact raw bytes", async () => {
    const { app, outbox } = setup();
    const spaced = `{ "channel" : "#ops",\n  "message": "caf\u00e9 ☕" }`;
    expect((await call(app, post(spaced, sign(spaced)))).status).toBe(202);
    expect(outbox.queued[0]!.message).toBe("café ☕");
  });

  test("400 names the bad field", async () => {
    const { app } = setup();
    const cases: Array<[string, string]> = [
      [JSON.stringify({ channel: "#ops" }), `"message" is required`],
      [JSON.stringify({ channel: "#ops", message: "x", whisper: "yes" }), `"whisper" must be a boolean`],
      [JSON.stringify({ channel: 42, message: "x" }), `"channel" must be a string`],
      [JSON.stringify({ channel: "#ops", message: "x", extra: [1] }), `"extra" must be an object`],
      [JSON.stringify({ channel: "#ops", message: "   " }), `"message" must not be empty`],
      [JSON.stringify({ message: "x" }), `"channel" or "user" is required`],
      [JSON.stringify(["x"]), "the announcement must be a JSON object"],
      ["{not json", "the body is not valid JSON"],
      ["", "the body is not valid JSON"],
    ];
    for (const [body, error] of cases) {
      expect(await call(app, bearer(body))).toMatchObject({ status: 400, body: { error } });
    }
  });

  test("invalid UTF-8 is a 400", async () => {
    const { app } = setup();
    const r = await call(app, post(new Uint8Array([0x7b, 0xff, 0x7d]), { authorization: `Bearer ${TOKEN}` }));
    expect(r).toMatchObject({ status: 400, body: { error: "the body is not valid UTF-8" } });
  });

  test("415 for a body that is not JSON", async () => {
    const { app } = setup();
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/jsonp"]) {
      const r = await call(app, bearer(good, { "content-type": type }));
      expect(r).toMatchObject({ status: 415, body: { error: "the body must be JSON (Content-Type: application/json)" } });
    }
    expect((await call(app, bearer(good, { "content-type": "application/json; charset=utf-8" }))).status).toBe(202);
  });

  test("413 above max_body_bytes, by Content-Length and by actual size", async () => {
    const { app, outbox } = setup({ token: TOKEN, max_body_bytes: 256 });
    const big = JSON.stringify({ channel: "#ops", message: "x".repeat(300) });
    const byLength = await call(app, bearer(big));
    expect(byLength).toMatchObject({ status: 413, body: { error: "the body is larger than 256 bytes" } });
    // A lying (absent) Content-Length: a streamed body is measured as it is read.
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const streamed = new Request(URL_, { method: "POST", body: stream, headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` } });
    expect(streamed.headers.get("content-length")).toBeNull();
    expect(await call(app, streamed)).toMatchObject({ status: 413, body: { error: "the body is larger than 256 bytes" } });
    expect(outbox.queued).toHaveLength(0);
  });

  test("without any credential configured the webhook is disabled, never open", async () => {
    const { app, outbox } = setup({});
    const r = await call(app, post(good, { authorization: "Bearer anything" }));
    expect(r.status).toBe(503);
    expect(r.body.error).toBe("the webhook is disabled: set webhook.token or webhook.hmac_secret in the st2bot config");
    expect(outbox.queued).toHaveLength(0);
  });

  test("only the configured method works: HMAC-only rejects bearer", async () => {
    const { app } = setup({ hmac_secret: SECRET });
    expect((await call(app, bearer(good))).status).toBe(401);
    expect((await call(app, post(good, sign(good)))).status).toBe(202);
  });

  test("secrets never reach the log", async () => {
    const { app } = setup();
    await call(app, bearer(good));
    await call(app, post(good, { authorization: `Bearer ${TOKEN}-wrong` }));
    expect(logLines.join("\n")).not.toContain(TOKEN);
    expect(logLines.join("\n")).not.toContain(SECRET);
  });
});

describe("webhook → outbox", () => {

  test("while max_pending messages wait for chat, a post gets 503 with Retry-After and nothing is stored; once chat catches up it is taken", async () => {
    const db = openDatabase(tempDbPath(tmp, "backlog"));
    const backend = new MemoryBackend();
    const outbox = new Outbox({ db, backend, deadAfterMs: 60_000, maxRetryDelayMs: 100 });
    outbox.start();
    const config = v.parse(WebhookSchema, { token: TOKEN, max_pending: 3 });
    const { app } = createServer({ config: v.parse(WebSchema, {}), plugins: [webhookPlugin({ config, outbox: outbox.webhook, replay: new ReplayStore(db), peerAddress: () => "203.0.113.1" })] });
    const rows = () => (db.query("SELECT count(*) AS n FROM outbox").get() as { n: number }).n;
    // Chat is down: every send fails (retryably), so what is posted stays pending.
    backend.failFor(60_000);
    for (let i = 0; i < 3; i++) expect((await app.handle(bearer(JSON.stringify({ channel: "#ops", message: `m${i}` })))).status).toBe(202);
    const logged = logLines.length;
    const full = await app.handle(bearer(JSON.stringify({ channel: "#ops", message: "one too many" })));
    expect(full.status).toBe(503);
    expect(full.headers.get("retry-after")).toBe("30");
    expect(((await full.json()) as { error: string }).error).toContain("3 messages not yet delivered");
    expect(rows()).toBe(3);
    // A caller without credentials learns nothing of the backlog.
    expect((await app.handle(post(JSON.stringify({ channel: "#ops", message: "x" })))).status).toBe(401);
    // A sender in a loop is logged once, not once a post.
    for (let i = 0; i < 5; i++) expect((await app.handle(bearer(JSON.stringify({ channel: "#ops", message: "again" })))).status).toBe(503);
    expect(logLines.slice(logged).filter((l) => l.includes("the outbox is full")).length).toBe(1);
    // Chat is back: the backlog drains, and the post is taken.
    backend.failFor(0);
    expect(await outbox.drain(10_000)).toBe(true);
    expect((await app.handle(bearer(JSON.stringify({ channel: "#ops", message: "one too many" })))).status).toBe(202);
    expect(await outbox.drain(10_000)).toBe(true);
    expect(backend.sent.map((m) => m.text)).toEqual(["m0", "m1", "m2", "one too many"]);
    await outbox.stop();
    db.close();
  });

  test("a flood of 2,000 posts: all 202, all delivered, none lost", async () => {
    const db = openDatabase(tempDbPath(tmp, "webhook"));
    const backend = new MemoryBackend();
    const outbox = new Outbox({ db, backend, deadAfterMs: 60_000, maxRetryDelayMs: 100 });
    outbox.start();
    const config = v.parse(WebhookSchema, { token: TOKEN, hmac_secret: SECRET });
    const { app } = createServer({ config: v.parse(WebSchema, {}), plugins: [webhookPlugin({ config, outbox, replay: new ReplayStore(db), peerAddress: () => "203.0.113.1" })] });
    const statuses = new Map<number, number>();
    const ids = new Set<number>();
    for (let batch = 0; batch < 20; batch++) {
      const results = await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const n = batch * 100 + i;
          const body = JSON.stringify({ channel: `#room${n % 7}`, message: `flood ${n}` });
          const headers = n % 2 ? { authorization: `Bearer ${TOKEN}` } : sign(body, String(Math.floor(Date.now() / 1000)));
          const res = await app.handle(post(body, headers));
          return { status: res.status, body: (await res.json()) as { id: number } };
        }),
      );
      for (const r of results) {
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        ids.add(r.body.id);
      }
    }
    expect([...statuses]).toEqual([[202, 2000]]);
    expect(ids.size).toBe(2000);
    expect(await outbox.drain(20_000)).toBe(true);
    const texts = new Set(backend.sent.map((s) => s.text));
    expect(texts.size).toBe(2000);
    expect(backend.sent).toHaveLength(2000);
    await outbox.stop();
    db.close();
  }, 60_000);
});

describe("replay protection in the database (issue 10, item 6)", () => {

  /** A webhook on the database file in `dir`, as `st2bot run` builds it. */
  function open(dir: string) {
    const db = openDatabase(join(dir, "st2bot.sqlite"));
    const outbox = new Outbox({ db, backend: new MemoryBackend(), deadAfterMs: 60_000, maxRetryDelayMs: 100 });
    const config = v.parse(WebhookSchema, { hmac_secret: SECRET });
    const { app } = createServer({ config: v.parse(WebSchema, {}), plugins: [webhookPlugin({ config, outbox, clock: () => NOW, replay: new ReplayStore(db, () => NOW) })] });
    return { db, app, rows: () => (db.query("SELECT COUNT(*) AS n FROM outbox").get() as { n: number }).n };
  }

  test("a signed post replayed after a restart (new app, same database) is refused", async () => {
    const dir = tmp("replay");
    const headers = sign(good);
    const first = open(dir);
    expect((await call(first.app, post(good, headers))).status).toBe(202);
    first.db.close();
    const second = open(dir);
    expect(await call(second.app, post(good, headers))).toMatchObject({ status: 401, body: { error: "missing or invalid credentials" } });
    expect(second.rows()).toBe(1);
    second.db.close();
  });

  test("the replay record and the outbox row are one transaction: a failed insert records nothing", async () => {
    const dir = tmp("replay");
    const hook = open(dir);
    hook.db.exec("CREATE TRIGGER full_disk BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    const headers = sign(good);
    expect((await call(hook.app, post(good, headers))).status).toBe(503);
    expect(hook.db.query("SELECT COUNT(*) AS n FROM webhook_replay").get()).toEqual({ n: 0 });
    hook.db.exec("DROP TRIGGER full_disk");
    expect((await call(hook.app, post(good, headers))).status).toBe(202);
    expect((await call(hook.app, post(good, headers))).status).toBe(401);
    expect(hook.rows()).toBe(1);
    hook.db.close();
  });

  test("expired records are swept; only a hash of the signature is stored", () => {
    const db = openDatabase(":memory:");
    const ledger = new ReplayStore(db, () => NOW);
    const sig = "ab".repeat(32);
    expect(ledger.record(sig, NOW + 300_000, NOW)).toBe(true);
    expect(ledger.record(sig, NOW + 300_000, NOW)).toBe(false);
    expect(ledger.seen(sig, NOW)).toBe(true);
    expect(JSON.stringify(db.query("SELECT * FROM webhook_replay").all())).not.toContain(sig);
    // A record whose window passed is taken over, not counted as a replay.
    expect(ledger.record(sig, NOW + 900_000, NOW + 400_000)).toBe(true);
    for (let i = 0; i < 300; i++) ledger.record(`old-${i}`, 1, 2);
    expect(ledger.size()).toBeLessThan(100);
    db.exec("INSERT INTO webhook_replay VALUES ('ancient', 1)");
    new ReplayStore(db, () => NOW); // st2bot starting again
    expect(db.query("SELECT COUNT(*) AS n FROM webhook_replay WHERE expires_at = 1").get()).toEqual({ n: 0 });
    db.close();
  });
});

describe("failed credentials are throttled per address (issue 10, item 6)", () => {
  test("the 11th 401 in a minute turns the address away with 429 and Retry-After, valid token included; others pass", async () => {
    let now = NOW;
    const { app, outbox } = setup({ token: TOKEN }, () => now);
    const from = { "x-test-peer": "198.51.100.9" };
    for (let i = 0; i < 10; i++) expect((await call(app, post(good, { ...from, authorization: `Bearer wrong-${i}` }))).status).toBe(401);
    const limited = await call(app, bearer(good, from));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(limited.headers.get("x-frame-options")).toBe("DENY");
    expect((await call(app, bearer(good, { "x-test-peer": "198.51.100.10" }))).status).toBe(202);
    now += 60_001;
    expect((await call(app, bearer(good, from))).status).toBe(202);
    expect(outbox.queued).toHaveLength(2);
  });
});

describe("weak webhook secrets are refused at start (issue 10, item 6)", () => {
  test("the config names the key, its length and how to make a good one", () => {
    for (const [key, value] of [["token", "a"], ["hmac_secret", "x".repeat(31)]] as const) {
      expect(() => parseConfig(`[webhook]\n${key} = "${value}"\n`, "st2bot.toml", {})).toThrow(
        `st2bot.toml:2: webhook.${key} is ${value.length} byte${value.length === 1 ? "" : "s"} long; it must be at least 32 (generate one with: openssl rand -hex 32)`,
      );
    }
    expect(parseConfig(`[webhook]\ntoken = "${TOKEN}"\n`, "st2bot.toml", {}).webhook.token).toBe(TOKEN);
  });

  test("a short secret read from token_file is refused too, and the secret is not in the message", () => {
    const dir = tmp("token");
    writeFileSync(join(dir, "token"), "short-token\n");
    const error = (() => {
      try {
        parseConfig('[webhook]\ntoken_file = "token"\n', join(dir, "st2bot.toml"), {});
      } catch (err) {
        return String(err);
      }
    })();
    expect(error).toContain("webhook.token is 11 bytes long; it must be at least 32");
    expect(error).not.toContain("short-token");
  });

  test("the plugin refuses one as well, whatever built its config", () => {
    const config = v.parse(WebhookSchema, { token: "a" });
    expect(() => webhookPlugin({ config, outbox: new Recorder(), replay: memoryLedger() })).toThrow(ConfigError);
  });
});
