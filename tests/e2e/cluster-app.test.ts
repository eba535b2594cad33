/**
 * Cluster mode with st2bot apps in this process (startApp, memory backends, real Redis).
 *
 * A user logs in through the standby's login page (the link came from the
 * leader), the leader steps away, and the user's next command on the new leader still runs as
 * them — sessions and credentials live in Redis (credentials as ciphertext only). A leader
 * whose chat side cannot start steps down instead of holding the lease with nobody delivering.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { MemoryBackend } from "../../src/chat/memory.ts";
import { clientsideOptions, startBot, type BotHarness } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";
import { haveRedis, RedisServer } from "../support/redis.ts";

const KEY_ENV = "ST2BOT_TEST_CLUSTER_LOGIN_KEY";

describe.skipIf(!haveRedis())("cluster apps (real Redis)", () => {
  let redis: RedisServer | undefined;
  const bots: BotHarness[] = [];
  afterAll(async () => {
    for (const b of bots) await b.stop().catch(() => undefined);
    await redis?.close();
    delete process.env[KEY_ENV];
  });

  test("login on the standby, the leader goes, the next command runs as the user on the new leader", async () => {
    redis = await RedisServer.start({ appendonly: true });
    const base = clientsideOptions(KEY_ENV);
    const cluster = (name: string) => `${base.toml}\n[cluster]\nredis_url = "${redis!.url}"\ninstance = "${name}"\nlease_seconds = 1\nrenew_seconds = 0.3\nsafety_margin_seconds = 0.2`;
    const a = await startBot({ ...base, toml: cluster("a"), emulator: { aliases: sampleAliases, actions: sampleActions, users: { st2admin: "Ch@ngeMe", "alice.st2": "alice-pw" } } });
    bots.push(a);
    await waitFor("a leads", () => a.app.cluster!.status().role === "leader");
    const b = await startBot({ ...base, toml: cluster("b"), useEmulator: a.emulator });
    bots.push(b);

    await a.say("!st2session_start open-sesame", { user: "alice" });
    const link = await a.next((m) => m.target.kind === "user" && m.text.includes("/login/"), "login link");
    const id = /\/login\/([0-9a-f-]{36}) /.exec(link.text)![1]!;
    // The standby serves the login page: the session the leader made is there.
    const res = await b.app.web!.app.handle(
      new Request(`http://localhost/login/authenticate/${id}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ shared_word: "open-sesame", kind: "password", username: "alice.st2", password: "alice-pw" }),
      }),
    );
    expect(res.status).toBe(200);

    await a.app.stop();
    bots.shift();
    await waitFor("b leads", () => b.app.cluster!.status().role === "leader", 10_000);
    expect(b.app.cluster!.status().fence).toBeGreaterThan(1);
    await b.say("!st2 packs list", { user: "alice" });
    await waitFor("an execution", () => b.emulator.executions.some((e) => e.user === "alice.st2"), 10_000);
    expect(b.emulator.executions.at(-1)!.user).toBe("alice.st2");
    await b.next((m) => m.target.kind === "user" && m.text.startsWith("Looking up your packs"), "ack on the new leader");
  }, 60_000);

  test("a leader whose chat side cannot start steps down and releases the lease", async () => {
    redis ??= await RedisServer.start();
    class Refusing extends MemoryBackend {
      override async start(): Promise<void> {
        throw new Error("the chat service refused the token");
      }
    }
    const bot = await startBot({ backend: new Refusing(), toml: `[cluster]\nredis_url = "${redis.url}"\nkey_prefix = "refuse"\ninstance = "r"` });
    bots.push(bot);
    expect(await bot.app.cluster!.lost).toContain("refused the token");
    await bot.app.stop();
    expect(redis.cli("GET", "refuse:leader")).toBe("");
  });
});
