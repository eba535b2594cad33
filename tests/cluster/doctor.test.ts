/** `st2bot doctor`'s cluster checks against a real redis-server: reachability, persistence, the lease holder. */
import { afterAll, describe, expect, test } from "bun:test";
import { checkCluster } from "../../src/cluster/doctor.ts";
import { parseConfig } from "../../src/config/load.ts";
import { freePort, haveRedis, RedisServer } from "../support/redis.ts";

const configFor = (url: string) => parseConfig(`[cluster]\nredis_url = "${url}"\n`, "x.toml");

describe.skipIf(!haveRedis())("doctor: [cluster] (real Redis)", () => {
  const servers: RedisServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  test("no [cluster]: no checks", async () => {
    expect(await checkCluster(parseConfig("", "x.toml"))).toEqual([]);
  });

  test("unreachable Redis fails, naming where", async () => {
    const port = await freePort();
    const [c] = await checkCluster(configFor(`redis://127.0.0.1:${port}/0`), 1000);
    expect(c!.verdict).toBe("fail");
    expect(c!.what).toContain(`127.0.0.1:${port}`);
  });

  test("without appendonly: a warning that a Redis crash loses accepted messages", async () => {
    const s = await RedisServer.start({ appendonly: false });
    servers.push(s);
    const checks = await checkCluster(configFor(s.url));
    expect(checks[0]!.verdict).toBe("ok");
    expect(checks.find((c) => c.what.includes("without appendonly"))?.verdict).toBe("warn");
  });

  test("appendonly with fsync always, noeviction: no warnings; an evicting policy is a warning", async () => {
    const s = await RedisServer.start({ appendonly: true, appendfsync: "always" });
    servers.push(s);
    const checks = await checkCluster(configFor(s.url));
    expect(checks.filter((c) => c.verdict !== "ok")).toEqual([]);
    expect(checks.map((c) => c.what).join("\n")).toContain("appendfsync always");
    s.cli("CONFIG", "SET", "maxmemory-policy", "allkeys-lru");
    expect((await checkCluster(configFor(s.url))).find((c) => c.what.includes("allkeys-lru"))?.verdict).toBe("warn");
  });
});
