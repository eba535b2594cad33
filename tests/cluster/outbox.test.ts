/**
 * The shared outbox against a real redis-server: stream announcements de-duplicated across
 * instances (but identical ones kept), signed webhook posts refused twice across instances,
 * delivery acknowledged only after the backend confirmed, a dead leader's entries taken over,
 * and the local spool while Redis is down.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { SharedIntake, ReplayedPost } from "../../src/cluster/intake.ts";
import { ensureGroup, Relay } from "../../src/cluster/relay.ts";
import { SharedDeadLetters } from "../../src/cluster/dead.ts";
import { Outbox } from "../../src/delivery/outbox.ts";
import { MemoryBackend } from "../../src/chat/memory.ts";
import { openDatabase } from "../../src/store/db.ts";
import { haveRedis, RedisServer } from "../support/redis.ts";

const until = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(10);
  }
};

describe.skipIf(!haveRedis())("shared outbox (real Redis)", () => {
  let server: RedisServer;
  const clients: Redis[] = [];
  const client = (offline = false) => {
    const r = new Redis({ port: server.port, host: "127.0.0.1", enableOfflineQueue: offline, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    r.on("error", () => undefined);
    clients.push(r);
    return r;
  };
  const intake = (prefix: string, window = 30_000) =>
    new SharedIntake({ redis: client(true), prefix, db: openDatabase(":memory:"), dedupeWindowMs: window });
  beforeAll(async () => {
    server = await RedisServer.start({ appendonly: true });
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server.close();
  });

  test("the same announcement read by two instances is appended once; two identical ones twice", async () => {
    const a = intake("d1");
    const b = intake("d1");
    for (let i = 0; i < 50; i++) {
      const data = { payload: { message: `m${i}`, channel: "#ops" } };
      await Promise.all([a.acceptStream("st2.announcement__errbot", data, { message: `m${i}`, channel: "#ops" }), b.acceptStream("st2.announcement__errbot", data, { message: `m${i}`, channel: "#ops" })]);
    }
    // StackStorm announced "again" twice: both instances count 1 and 2.
    const again = { payload: { message: "again", channel: "#ops" } };
    for (const x of [a, b, a, b]) await x.acceptStream("st2.announcement__errbot", again, { message: "again", channel: "#ops" });
    expect(Number(server.cli("XLEN", "d1:outbox"))).toBe(52);
    expect(a.counts.duplicates + b.counts.duplicates).toBe(52);
  });

  test("the documented edge cases of the occurrence count", async () => {
    const x = { payload: { message: "same", channel: "#ops" } };
    const a1 = { message: "same", channel: "#ops" };
    // A saw both identical announcements, B (restarting) only the second: both arrive, once each.
    const [a, b] = [intake("e1"), intake("e1")];
    await a.acceptStream("ev", x, a1);
    await a.acceptStream("ev", x, a1);
    await b.acceptStream("ev", x, a1);
    expect(server.cli("XLEN", "e1:outbox")).toBe("2");
    // A saw only the first, B only the second, within the window: B counts it as the first and
    // drops it — the one loss the scheme allows (README).
    const [c, d] = [intake("e2"), intake("e2")];
    await c.acceptStream("ev", x, a1);
    await d.acceptStream("ev", x, a1);
    expect(server.cli("XLEN", "e2:outbox")).toBe("1");
    // After the window, the same announcement counts afresh.
    const e = intake("e3", 200);
    await e.acceptStream("ev", x, a1);
    await Bun.sleep(300);
    await e.acceptStream("ev", x, a1);
    expect(server.cli("XLEN", "e3:outbox")).toBe("2");
  });

  test("occurrence counts leave memory once their window passed, also when no announcement follows", async () => {
    let now = 1_000_000;
    const x = new SharedIntake({ redis: client(true), prefix: "sw1", db: openDatabase(":memory:"), dedupeWindowMs: 30_000, clock: () => now });
    for (let i = 0; i < 500; i++) await x.acceptStream("ev", { i }, { message: `m${i}`, channel: "#ops" });
    expect(x.counted).toBe(500);
    x.start();
    try {
      now += 31_000;
      // Quiet after the burst: the once-a-second timer alone drops them.
      await until(() => x.counted === 0, 3000);
    } finally {
      x.stop();
    }
  });

  test("a signed post accepted by one instance is refused by another", async () => {
    const a = intake("r1");
    const b = intake("r1");
    const record = (x: SharedIntake) => () => void x.replayLedger().record("sig-abc", Date.now() + 60_000, Date.now());
    expect(await a.enqueueWith({ message: "x", channel: "#ops" }, "webhook", record(a))).toMatch(/^\d+-\d+$/);
    await expect(b.enqueueWith({ message: "x", channel: "#ops" }, "webhook", record(b))).rejects.toBeInstanceOf(ReplayedPost);
    expect(Number(server.cli("XLEN", "r1:outbox"))).toBe(1);
    expect(server.cli("KEYS", "r1:replay:*")).not.toContain("sig-abc"); // only its hash is stored
  });

  test("delivered entries are acknowledged only after the backend confirmed; a new leader takes over the rest", async () => {
    const x = intake("o1");
    await ensureGroup(client(true), "o1:outbox");
    for (let i = 0; i < 20; i++) await x.enqueue({ message: `w${i}`, channel: "#ops" }, "webhook");
    // The first leader's backend never confirms: it reads everything and dies with it pending.
    const hung = new MemoryBackend();
    hung.failNext(1000, { kind: "hang" });
    let leaderA = true;
    const first = new Relay({ redis: client(), prefix: "o1", instance: "a", mayRead: () => leaderA, blockMs: 50 });
    const outA = new Outbox({ db: openDatabase(":memory:"), backend: hung, deadAfterMs: 60_000, maxRetryDelayMs: 1000, onDelivered: (id) => first.delivered(id) });
    outA.start();
    first.start(outA);
    await until(() => first.counts.read === 20);
    expect(server.cli("XPENDING", "o1:outbox", "deliver").split("\n")[0]).toBe("20");
    leaderA = false;
    await first.stop();
    // The next leader claims them and delivers each once, in order.
    const backend = new MemoryBackend();
    const second = new Relay({ redis: client(), prefix: "o1", instance: "b", mayRead: () => true, blockMs: 50 });
    const outB = new Outbox({ db: openDatabase(":memory:"), backend, deadAfterMs: 60_000, maxRetryDelayMs: 1000, onDelivered: (id) => second.delivered(id) });
    outB.start();
    second.start(outB);
    await until(() => backend.sent.length === 20 && second.counts.acked === 20);
    expect(second.counts.claimed).toBe(20);
    // The dead leader's consumer, now holding nothing, was dropped from the group.
    await until(() => !server.cli("XINFO", "CONSUMERS", "o1:outbox", "deliver").includes("\na\n"));
    expect(backend.sent.map((m) => m.text)).toEqual(Array.from({ length: 20 }, (_, i) => `w${i}`));
    expect(server.cli("XLEN", "o1:outbox")).toBe("0");
    // A later entry is read as new.
    await x.enqueue({ message: "late", channel: "#ops" }, "webhook");
    await until(() => backend.sent.length === 21);
    await second.stop();
    await outB.stop();
  });

  test("a lease that lapses for a moment and is renewed: the leader keeps reading afterwards", async () => {
    const x = intake("p1");
    await ensureGroup(client(true), "p1:outbox");
    let valid = true;
    const backend = new MemoryBackend();
    const relay = new Relay({ redis: client(), prefix: "p1", instance: "a", mayRead: () => valid, blockMs: 50 });
    const out = new Outbox({ db: openDatabase(":memory:"), backend, deadAfterMs: 60_000, maxRetryDelayMs: 1000, onDelivered: (id) => relay.delivered(id) });
    out.start();
    relay.start(out);
    await x.enqueue({ message: "before", channel: "#ops" }, "webhook");
    await until(() => backend.sent.length === 1);
    valid = false;
    await Bun.sleep(150);
    valid = true;
    await x.enqueue({ message: "after", channel: "#ops" }, "webhook");
    await until(() => backend.sent.length === 2);
    await relay.stop();
    await out.stop();
  });

  test("Redis down: the webhook's enqueue rejects, stream announcements are spooled and forwarded in order once it is back", async () => {
    const redis = client(false);
    await until(() => redis.status === "ready");
    const x = new SharedIntake({ redis, prefix: "s1", db: openDatabase(":memory:"), dedupeWindowMs: 30_000 });
    await x.acceptStream("e", { n: 0 }, { message: "before", channel: "#ops" });
    await server.kill("SIGKILL");
    await until(() => redis.status !== "ready");
    await expect(x.enqueue({ message: "w", channel: "#ops" }, "webhook")).rejects.toBeDefined();
    for (let i = 1; i <= 5; i++) await x.acceptStream("e", { n: i }, { message: `during${i}`, channel: "#ops" });
    expect(x.spooled()).toBe(5);
    await server.run();
    await until(() => redis.status === "ready", 5000);
    await x.acceptStream("e", { n: 6 }, { message: "after", channel: "#ops" }); // queued behind the spool, or after it
    // Forwarded as soon as the connection is ready again (no timer runs here: `start` was not called).
    await until(() => x.spooled() === 0);
    const fields = (await client(true).xrange("s1:outbox", "-", "+")).map(([, f]) => JSON.parse(f[1]!).message);
    // "before" survived the kill -9: Redis writes the AOF before it replies (fsync matters only for an OS crash).
    expect(fields).toEqual(["before", "during1", "during2", "during3", "during4", "during5", "after"]);
  });

  test("a reply made while the spool still holds announcements goes to Redis behind them, in order; none is delivered from the leader alone", async () => {
    const redis = client(false);
    await until(() => redis.status === "ready");
    const x = new SharedIntake({ redis, prefix: "s2", db: openDatabase(":memory:"), dedupeWindowMs: 30_000 });
    const local: string[] = [];
    const reply = (message: string) => x.reply({ message, channel: "#ops" }, (a) => void local.push(a.message));
    await server.kill("SIGKILL");
    await until(() => redis.status !== "ready");
    for (let i = 1; i <= 3; i++) await x.acceptStream("e", { n: i }, { message: `result${i}`, channel: "#ops" });
    // Redis away: a reply is answered from the leader at once (commands keep working), never also via Redis.
    reply("during the outage");
    await until(() => local.length === 1);
    expect(x.spooled()).toBe(3);
    // Redis is back before the spool was forwarded (a hiccup a moment ago): replies queue behind it.
    const ready = new Promise((r) => redis.once("ready", r));
    await server.run();
    await ready;
    reply("ack 1");
    reply("ack 2");
    await until(() => x.spooled() === 0);
    reply("ack 3");
    await until(() => server.cli("XLEN", "s2:outbox") === "6");
    const stored = (await client(true).xrange("s2:outbox", "-", "+")).map(([, f]) => JSON.parse(f[1]!).message);
    expect(stored).toEqual(["result1", "result2", "result3", "ack 1", "ack 2", "ack 3"]);
    expect(local).toEqual(["during the outage"]);
  });

  test("a reply whose append timed out while Redis was stopped is in the stream once when Redis wakes, not also delivered from the leader", async () => {
    const redis = new Redis({ port: server.port, host: "127.0.0.1", enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1000 });
    redis.on("error", () => undefined);
    clients.push(redis);
    await until(() => redis.status === "ready");
    const x = new SharedIntake({ redis, prefix: "s3", db: openDatabase(":memory:"), dedupeWindowMs: 30_000 });
    const local: string[] = [];
    server.signal("SIGSTOP");
    try {
      // The append reaches Redis, which answers only after the command timeout (a slow or stopped Redis).
      x.reply({ message: "ack", channel: "#ops" }, (a) => void local.push(a.message));
      await until(() => x.spooled() === 1, 3000);
    } finally {
      server.signal("SIGCONT");
    }
    // Redis applies the first append late; the retry from the spool finds its guard and adds nothing.
    await until(() => x.spooled() === 0, 3000);
    await Bun.sleep(100);
    const stored = (await client(true).xrange("s3:outbox", "-", "+")).map(([, f]) => JSON.parse(f[1]!).message);
    expect(stored).toEqual(["ack"]);
    expect(local).toEqual([]);
  });

  test("a message the leader gives up on becomes a shared dead letter; replayed from two instances at once, it is sent once", async () => {
    const x = intake("z1");
    await ensureGroup(client(true), "z1:outbox");
    const relay = new Relay({ redis: client(true), prefix: "z1", instance: "a", mayRead: () => true, blockMs: 50 });
    const out = new Outbox({
      db: openDatabase(":memory:"),
      backend: new MemoryBackend({ rooms: ["ops"] }),
      deadAfterMs: 60_000,
      maxRetryDelayMs: 1000,
      onDelivered: (id) => relay.delivered(id),
      onDead: (id, reason) => relay.died(id, reason),
    });
    out.start();
    relay.start(out);
    await x.enqueue({ message: "to nowhere", channel: "#gone" }, "webhook");
    const views = [new SharedDeadLetters(client(true), "z1", out), new SharedDeadLetters(client(true), "z1", out)];
    await until(() => relay.counts.acked === 1);
    for (const v of views) await v.refresh();
    const [letter] = views[0]!.listDead(10);
    expect(letter).toMatchObject({ targetKey: "channel:#gone", announcement: { message: "to nowhere" } });
    expect(letter!.lastError).toContain("gone");
    expect(views[1]!.stats().dead).toBe(1);
    await relay.stop();
    await out.stop();
    // Both admins replay; the next leader (whose chat has #gone) delivers it once.
    expect(views.map((v) => v.replay(letter!.id))).toEqual([1, 1]);
    const backend = new MemoryBackend();
    const next = new Relay({ redis: client(true), prefix: "z1", instance: "b", mayRead: () => true, blockMs: 50 });
    const out2 = new Outbox({ db: openDatabase(":memory:"), backend, deadAfterMs: 60_000, maxRetryDelayMs: 1000, onDelivered: (id) => next.delivered(id) });
    out2.start();
    next.start(out2);
    await until(() => backend.sent.length === 1);
    await Bun.sleep(300);
    expect(backend.sent.map((m) => m.text)).toEqual(["to nowhere"]);
    await views[0]!.refresh();
    expect(views[0]!.listDead(10)).toEqual([]);
    await next.stop();
    await out2.stop();
  });
});
