/** Login sessions in Redis: made on one instance, redeemed on another, consumed once across instances, nothing in clear. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { RedisSessions } from "../../src/cluster/sessions.ts";
import { haveRedis, RedisServer } from "../support/redis.ts";

describe.skipIf(!haveRedis())("login sessions in Redis (real Redis)", () => {
  let server: RedisServer;
  const clients: Redis[] = [];
  const sessions = (prefix: string, ttl = 60_000) => {
    const r = new Redis({ port: server.port, host: "127.0.0.1" });
    clients.push(r);
    return new RedisSessions(r, prefix, ttl);
  };
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server.close();
  });

  test("a link made on the leader is redeemed on another instance; two racing logins on two instances: one wins", async () => {
    const a = sessions("l1");
    const b = sessions("l1");
    const c = sessions("l1");
    const id = await a.start("slack:alice", "shared-word-xyz");
    expect(await b.isOpen(id)).toBe(true);
    expect(await b.redeem(id, "wrong")).toEqual({ ok: false, reason: "wrong-word" });
    const [rb, rc] = await Promise.all([b.redeem(id, "shared-word-xyz"), c.redeem(id, "shared-word-xyz")]);
    if (!rb.ok || !rc.ok) throw new Error("both should verify");
    expect(rb.chatUser).toBe("slack:alice");
    const wins = await Promise.all([rb.finish(), rc.finish()]);
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(await a.isOpen(id)).toBe(false);
    expect(await a.redeem(id, "shared-word-xyz")).toEqual({ ok: false, reason: "invalid" });
    // Neither the id nor the word is stored in clear.
    const dump = server.cli("--scan", "--pattern", "l1:*");
    expect(dump).not.toContain(id);
  });

  test("a new session replaces the user's open one; list, cancel by ref, burn, expiry", async () => {
    let now = Date.now();
    const r = new Redis({ port: server.port, host: "127.0.0.1" });
    clients.push(r);
    const s = new RedisSessions(r, "l2", 60_000, () => now);
    const first = await s.start("slack:bob", "w");
    const second = await s.start("slack:bob", "w");
    expect(await s.isOpen(first)).toBe(false);
    expect(await s.isOpen(second)).toBe(true);
    now += 1;
    const carol = await s.start("slack:carol", "w");
    const list = await s.list();
    expect(list.map((x) => x.chatUser)).toEqual(["slack:bob", "slack:carol"]);
    expect(await s.cancel(list[1]!.ref)).toBe(1);
    expect(await s.isOpen(carol)).toBe(false);
    await s.burn(second);
    expect(await s.isOpen(second)).toBe(false);
    const late = await s.start("slack:dan", "w");
    now += 61_000;
    expect(await s.isOpen(late)).toBe(false);
  });
});
