/**
 * The leader batching through the fenced backend (`sendMany`), against a real redis-server: an
 * entry of the shared outbox is acknowledged (XACK + XDEL) only once the batch holding it was
 * confirmed; a failed batch leaves every entry pending and its messages go one at a time; a
 * batch refused by the fence (lease lapsed) sends nothing and acknowledges nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { fencedBackend } from "../../src/cluster/fenced.ts";
import { SharedIntake } from "../../src/cluster/intake.ts";
import { ensureGroup, Relay } from "../../src/cluster/relay.ts";
import { MemoryBackend } from "../../src/chat/memory.ts";
import type { Outgoing, Target } from "../../src/chat/types.ts";
import { Outbox } from "../../src/delivery/outbox.ts";
import { SendError } from "../../src/lib/errors.ts";
import { openDatabase } from "../../src/store/db.ts";
import { haveRedis, RedisServer } from "../support/redis.ts";

const until = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(10);
  }
};

/** The memory backend plus `sendMany`: batches recorded; `hold()` keeps the next one unconfirmed until settled. */
class BatchBackend extends MemoryBackend {
  readonly batches: string[][] = [];
  readonly singles: string[] = [];
  /** While set, single sends wait for it. */
  gate?: Promise<void>;
  private held: Array<(settle: (err?: Error) => void) => void> = [];

  hold(): Promise<(err?: Error) => void> {
    return new Promise((resolve) => this.held.push(resolve));
  }

  override async send(target: Target, msg: Outgoing): Promise<void> {
    this.singles.push(msg.text);
    await this.gate;
    return super.send(target, msg);
  }

  async sendMany(target: Target, msgs: Outgoing[]): Promise<void> {
    this.batches.push(msgs.map((m) => m.text));
    const holder = this.held.shift();
    if (holder) {
      const err = await new Promise<Error | undefined>((resolve) => holder(resolve));
      if (err) throw err;
    }
    for (const msg of msgs) this.sent.push({ target, text: msg.text, extra: msg.extra, at: Date.now() });
  }
}

describe.skipIf(!haveRedis())("leader batches through the fence (real Redis)", () => {
  let server: RedisServer;
  const clients: Redis[] = [];
  const client = () => {
    const r = new Redis({ port: server.port, host: "127.0.0.1", maxRetriesPerRequest: 1 });
    r.on("error", () => undefined);
    clients.push(r);
    return r;
  };
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server.close();
  });
  const pending = (prefix: string) => Number(server.cli("XPENDING", `${prefix}:outbox`, "deliver").split("\n")[0]);

  /** A leader: relay → local outbox → fenced batching backend; `valid` is the lease. */
  async function leader(prefix: string, n: number, instance = "a") {
    const intake = new SharedIntake({ redis: client(), prefix, db: openDatabase(":memory:"), dedupeWindowMs: 30_000 });
    await ensureGroup(client(), `${prefix}:outbox`);
    const texts = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
    for (const t of texts) if (n > 0) await intake.enqueue({ message: t, channel: "#ops" }, "webhook");
    const inner = new BatchBackend();
    const lease = { valid: true, expired: 0 };
    const backend = fencedBackend(inner, { maySend: () => lease.valid, expired: () => lease.expired++ });
    const relay = new Relay({ redis: client(), prefix, instance, mayRead: () => true, blockMs: 50 });
    const out = new Outbox({ db: openDatabase(":memory:"), backend, deadAfterMs: 60_000, initialRetryDelayMs: 10, maxRetryDelayMs: 50, random: () => 1, onDelivered: (id) => relay.delivered(id) });
    // The outbox first: its last confirmations reach the relay, which acknowledges them as it stops.
    const stop = async () => {
      await out.stop();
      await relay.stop();
    };
    return { inner, lease, relay, out, texts, stop, start: () => (out.start(), relay.start(out)) };
  }

  test("entries are acknowledged only once their batch was confirmed, in order", async () => {
    const l = await leader("b1", 100);
    const release = l.inner.hold();
    l.start();
    const settle = await release;
    await until(() => l.relay.counts.read === 100);
    await Bun.sleep(100);
    // The first message may go alone (the lane held only it when it was sent); the first batch
    // is in flight, unconfirmed: none of it acknowledged, it and the rest still in Redis.
    const alone = l.inner.singles.length;
    const [first] = l.inner.batches;
    expect(first!.length).toBeGreaterThan(1);
    expect(l.relay.counts.acked).toBeLessThanOrEqual(alone);
    expect(pending("b1")).toBeGreaterThanOrEqual(100 - alone);
    expect(Number(server.cli("XLEN", "b1:outbox"))).toBeGreaterThanOrEqual(100 - alone);
    settle();
    await until(() => l.relay.counts.acked === 100);
    expect(l.inner.sent.map((m) => m.text)).toEqual(l.texts);
    expect(l.inner.batches.length).toBeLessThan(10);
    expect(server.cli("XLEN", "b1:outbox")).toBe("0");
    await l.stop();
  });

  test("a failed batch: nothing of it acknowledged, its messages go one at a time, each once, in order", async () => {
    const l = await leader("b2", 10);
    const release = l.inner.hold();
    l.start();
    const settle = await release;
    await until(() => l.relay.counts.read === 10);
    const alone = l.inner.singles.length;
    const failed = l.inner.batches[0]!;
    expect(failed.length).toBeGreaterThan(1);
    // The single sends after the failure wait: the failed batch's entries stay unacknowledged.
    let open = () => undefined as void;
    l.inner.gate = new Promise<void>((r) => (open = r));
    settle(new SendError("the service failed the batch", true));
    await until(() => l.inner.singles.length > alone);
    await Bun.sleep(100);
    expect(l.relay.counts.acked).toBeLessThanOrEqual(alone);
    expect(pending("b2")).toBeGreaterThanOrEqual(failed.length);
    open();
    await until(() => l.relay.counts.acked === 10);
    // Each of the failed batch's messages on its own (its own answer decides), before any new batch.
    expect(l.inner.singles.slice(alone, alone + failed.length)).toEqual(failed);
    expect(l.inner.sent.map((m) => m.text)).toEqual(l.texts);
    expect(server.cli("XLEN", "b2:outbox")).toBe("0");
    await l.stop();
  });

  test("a batch the fence refuses (lease lapsed) sends and acknowledges nothing; the next leader delivers all of it", async () => {
    const l = await leader("b3", 10);
    let open = () => undefined as void;
    l.inner.gate = new Promise<void>((r) => (open = r));
    l.start();
    // The first message went alone and is out; the rest queue behind it, then the lease lapses.
    await until(() => l.relay.counts.read === 10 && l.inner.singles.length === 1);
    l.lease.valid = false;
    open();
    await until(() => l.lease.expired > 0);
    await Bun.sleep(100);
    expect(l.inner.batches).toEqual([]);
    expect(l.inner.sent.map((m) => m.text)).toEqual(["b3-0"]);
    expect(pending("b3")).toBeGreaterThanOrEqual(9);
    await l.stop();
    // The old leader's confirmed message was acknowledged as it stopped; the next one takes the rest.
    expect(pending("b3")).toBe(9);
    const next = await leader("b3", 0, "b");
    next.start();
    await until(() => next.relay.counts.acked === 9);
    expect(next.relay.counts.claimed).toBe(9);
    expect(next.inner.sent.map((m) => m.text)).toEqual(l.texts.slice(1));
    expect(server.cli("XLEN", "b3:outbox")).toBe("0");
    await next.stop();
  });
});
