/** The leader lease against a real redis-server: one leader, growing fences, fencing after a pause. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { Lease } from "../../src/cluster/lease.ts";
import { haveRedis, RedisServer } from "../support/redis.ts";

const until = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(10);
  }
};

describe.skipIf(!haveRedis())("leader lease (real Redis)", () => {
  let server: RedisServer;
  const clients: Redis[] = [];
  const client = () => {
    const r = new Redis({ port: server.port, host: "127.0.0.1", enableOfflineQueue: true, maxRetriesPerRequest: 1 });
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

  const lease = (prefix: string, instance: string, extra: Partial<ConstructorParameters<typeof Lease>[0]> = {}) =>
    new Lease({ redis: client(), prefix, instance, leaseMs: 600, renewMs: 150, marginMs: 100, ...extra });

  test("exactly one of two instances leads; a clean stop hands over at once with a higher fence", async () => {
    const a = lease("t1", "a");
    const b = lease("t1", "b");
    a.start();
    await until(() => a.status().role === "leader");
    b.start();
    await Bun.sleep(400);
    expect(b.status().role).toBe("standby");
    expect(a.maySend()).toBe(true);
    expect(b.maySend()).toBe(false);
    const first = a.status().fence;
    const stoppedAt = Date.now();
    await a.stop();
    await until(() => b.status().role === "leader");
    // Released, not expired: the standby's next try (every renewMs/2) wins.
    expect(Date.now() - stoppedAt).toBeLessThan(600);
    expect(b.status().fence).toBeGreaterThan(first);
    expect(b.status().peers).toBe(2);
    await b.stop();
  });

  test("a leader that dies is replaced once its lease ran out", async () => {
    const a = lease("t2", "a");
    a.start();
    await until(() => a.status().role === "leader");
    // Dies without releasing: the timer stops, the key stays until its TTL.
    (a as unknown as { running: boolean }).running = false;
    const b = lease("t2", "b");
    const diedAt = Date.now();
    b.start();
    await until(() => b.status().role === "leader", 3000);
    expect(Date.now() - diedAt).toBeGreaterThanOrEqual(300);
    await b.stop();
  });

  test("a paused leader may not send when it wakes, and steps down", async () => {
    let offset = 0;
    const lost: string[] = [];
    const a = lease("t3", "a", { monotonic: () => performance.now() + offset, onLost: (r) => lost.push(r) });
    a.start();
    await until(() => a.maySend());
    // Its clock jumps past the lease as after SIGSTOP: it refuses before asking Redis.
    offset = 10_000;
    expect(a.maySend()).toBe(false);
    a.expired();
    expect(lost).toHaveLength(1);
    expect(a.status().role).toBe("standby");
  });

  test("a leader whose key another took over loses at its next renewal", async () => {
    const lost: string[] = [];
    const a = lease("t4", "a", { onLost: (r) => lost.push(r) });
    a.start();
    await until(() => a.status().role === "leader");
    await client().set("t4:leader", "intruder|99");
    await until(() => lost.length === 1);
    expect(a.maySend()).toBe(false);
    expect(lost[0]).toContain("another instance");
  });
});
