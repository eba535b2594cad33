/** `[cluster]`: absent means one process; present, its keys are checked and turned into ioredis options. */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { clusterProblem, redisOptions } from "../../src/cluster/redis.ts";
import { redact } from "../../src/lib/log.ts";

describe("[cluster] config", () => {
  test("absent: no cluster", () => {
    expect(parseConfig("", "st2bot.toml").cluster).toBeUndefined();
  });

  test("defaults, and a URL with password and database", () => {
    const c = parseConfig(`[cluster]\nredis_url = "redis://:s3cret-pass@10.0.0.5:6380/2"\n`, "x.toml").cluster!;
    expect(c.lease_seconds).toBe(3);
    expect(c.renew_seconds).toBe(1);
    expect(c.key_prefix).toBe("st2bot");
    const o = redisOptions(c);
    expect(o).toMatchObject({ host: "10.0.0.5", port: 6380, db: 2, password: "s3cret-pass", enableOfflineQueue: false });
    expect(o.tls).toBeUndefined();
  });

  test("password_file is read and the password is a registered secret", () => {
    const dir = mkdtempSync(join(tmpdir(), "st2bot-cluster-config-"));
    writeFileSync(join(dir, "pw"), "file-secret-123\n");
    const c = parseConfig(`[cluster]\nredis_url = "rediss://r.example:6379"\npassword_file = "pw"\n`, join(dir, "st2bot.toml")).cluster!;
    expect(c.password).toBe("file-secret-123");
    expect(redact("auth file-secret-123")).not.toContain("file-secret-123");
    expect(redisOptions(c).tls).toBeDefined();
    rmSync(dir, { recursive: true, force: true });
  });

  test("Sentinels instead of a URL", () => {
    const c = parseConfig(`[cluster]\nsentinels = ["10.0.0.1:26379", "[::1]:26380"]\nsentinel_name = "st2"\n`, "x.toml").cluster!;
    const o = redisOptions(c);
    expect(o.sentinels).toEqual([{ host: "10.0.0.1", port: 26379 }, { host: "::1", port: 26380 }]);
    expect(o.name).toBe("st2");
  });

  test("refused: nothing to connect to, a renewal too slow for the lease, a margin that never lets it send", () => {
    const parse = (t: string) => parseConfig(`[cluster]\n${t}`, "x.toml").cluster!;
    expect(clusterProblem(parse(""))).toContain("redis_url");
    expect(clusterProblem(parse(`redis_url = "redis://h"\nlease_seconds = 2\nrenew_seconds = 1.5`))).toContain("renew_seconds");
    expect(clusterProblem(parse(`redis_url = "redis://h"\nsafety_margin_seconds = 2.5`))).toContain("safety_margin_seconds");
    expect(() => parseConfig(`[cluster]\nredis_url = "http://h"`, "x.toml")).toThrow("redis://");
  });
});
