/** Users' credentials in Redis: only ciphertext there, shared by instances with the same key, refused with another. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import Redis from "ioredis";
import { importKey } from "../../src/auth/secrets.ts";
import { RedisSecretStore } from "../../src/cluster/secrets.ts";
import { ConfigError } from "../../src/lib/errors.ts";
import { haveRedis, RedisServer } from "../support/redis.ts";

describe.skipIf(!haveRedis())("credentials in Redis (real Redis)", () => {
  let server: RedisServer;
  const clients: Redis[] = [];
  const client = () => {
    const r = new Redis({ port: server.port, host: "127.0.0.1" });
    clients.push(r);
    return r;
  };
  const KEY = randomBytes(32).toString("base64");
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server.close();
  });

  test("a login stored through one instance is read by another; Redis holds only ciphertext", async () => {
    const a = await new RedisSecretStore(client(), "s", await importKey(KEY, "t")).open();
    const b = await new RedisSecretStore(client(), "s", await importKey(KEY, "t")).open();
    const expiry = new Date(Date.now() + 3600_000);
    await a.put("@alice", { kind: "token", token: "tok-visible-if-leaked-123", expiry });
    expect(await b.get("@alice")).toEqual({ kind: "token", token: "tok-visible-if-leaked-123", expiry });
    expect(JSON.stringify(await client().hgetall("s:secrets"))).not.toContain("tok-visible");
    expect(await b.delete("@alice")).toBe(true);
    expect(await a.get("@alice")).toBeUndefined();
  });

  test("a record moved to another user does not open", async () => {
    const a = await new RedisSecretStore(client(), "m", await importKey(KEY, "t")).open();
    await a.put("@alice", { kind: "apikey", apikey: "k-123" });
    const r = client();
    await r.hset("m:secrets", "@mallory", (await r.hget("m:secrets", "@alice"))!);
    await expect(a.get("@mallory")).rejects.toBeDefined();
  });

  test("an instance with another key is refused at start", async () => {
    await new RedisSecretStore(client(), "k", await importKey(KEY, "t")).open();
    const other = new RedisSecretStore(client(), "k", await importKey(randomBytes(32).toString("base64"), "t"));
    await expect(other.open()).rejects.toBeInstanceOf(ConfigError);
  });
});
