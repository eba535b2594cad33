/**
 * A Redis that hangs (SIGSTOP: the connection stays open, nothing answers) must not hold
 * webhook posts forever: with `cluster.command_timeout_seconds` the post answers 503 after
 * about that long; a stream announcement meanwhile is spooled and delivered once Redis
 * answers again (SIGCONT). st2bot app in this process, memory chat backend, real redis-server.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { startBot, type BotHarness } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";
import { haveRedis, RedisServer } from "../support/redis.ts";

const TOKEN = "cluster-hang-webhook-token-0123456789";

describe.skipIf(!haveRedis())("a hung Redis (real Redis, SIGSTOP)", () => {
  let redis: RedisServer | undefined;
  let bot: BotHarness | undefined;
  afterAll(async () => {
    redis?.signal("SIGCONT");
    await bot?.stop().catch(() => undefined);
    await redis?.close();
  });

  test("webhook posts answer 503 within the command timeout; announcements are spooled and delivered after SIGCONT", async () => {
    redis = await RedisServer.start();
    // A long lease: this test is about appends, not about the leader stepping down.
    const toml = `[webhook]\ntoken = "${TOKEN}"\n[cluster]\nredis_url = "${redis.url}"\ninstance = "h"\nlease_seconds = 30\nrenew_seconds = 5\ncommand_timeout_seconds = 0.5`;
    bot = await startBot({ toml, web: true });
    const b = bot;
    await waitFor("leader", () => b.app.cluster!.status().role === "leader");
    await waitFor("stream open", () => b.app.streamState().state === "open");
    const post = (message: string) =>
      b.app.web!.app.handle(
        new Request("http://localhost/chatops/message", {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify({ channel: "#ops", message }),
        }),
      );
    expect((await post("before")).status).toBe(202);
    await b.next((m) => m.text === "before", "before");

    redis.signal("SIGSTOP");
    const started = performance.now();
    const hung = await Promise.race([post("during").then((r) => r.status), Bun.sleep(5000).then(() => "no answer within 5 s")]);
    const tookMs = performance.now() - started;
    expect(hung).toBe(503);
    expect(tookMs).toBeLessThan(2000);
    b.emulator.announce("errbot", { message: "announced while Redis hung", channel: "#ops" });
    await waitFor("spooled", () => b.app.cluster!.status().spooled === 1, 5000);

    redis.signal("SIGCONT");
    await b.next((m) => m.text === "announced while Redis hung", "the spooled announcement", 10_000);
    expect((await post("after")).status).toBe(202);
    await b.next((m) => m.text === "after", "after");
    await Bun.sleep(200);
    // The timed-out append of the announcement reached Redis after SIGCONT too: its guard kept the spooled copy out.
    expect(b.backend.sent.filter((m) => m.text === "announced while Redis hung")).toHaveLength(1);
    // The 503'd post may still arrive (Redis ran the append it had received): the sender's retry then duplicates it — README.
    const during = b.backend.sent.filter((m) => m.text === "during").length;
    console.log(`hung Redis: webhook answered 503 after ${tookMs.toFixed(0)} ms (command_timeout_seconds = 0.5); the 503'd post delivered ${during}x after SIGCONT`);
  }, 30_000);
});
