/**
 * Per-target order in cluster mode: the bot's ack goes through the shared outbox (Redis) like
 * StackStorm's result, so for the same place the ack still comes before the result, even when
 * the execution completes at once. App in this process, memory chat backend, real Redis.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { AliasInput } from "../../src/emulator/index.ts";
import { startBot, type BotHarness } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";
import { haveRedis, RedisServer } from "../support/redis.ts";

const ALIASES: AliasInput[] = [{ name: "service_status", pack: "ops", action_ref: "ops.status", description: "Service status", formats: ["status of {{service}}"] }];
const ACTIONS = [{ ref: "ops.status", runner: "python-script" }];

describe.skipIf(!haveRedis())("cluster order (real Redis)", () => {
  let redis: RedisServer | undefined;
  let bot: BotHarness | undefined;
  afterAll(async () => {
    await bot?.stop();
    await redis?.close();
  });

  test("for each command, its ack arrives before its result in the same room", async () => {
    redis = await RedisServer.start();
    bot = await startBot({ toml: `[cluster]\nredis_url = "${redis.url}"\ninstance = "o"`, emulator: { aliases: ALIASES, actions: ACTIONS, completionDelayMs: 0 } });
    const b = bot;
    await waitFor("leader", () => b.app.cluster!.status().role === "leader");
    await waitFor("stream open", () => b.app.streamState().state === "open");
    const n = 20;
    for (let i = 0; i < n; i++) await b.say(`!st2 status of svc${i}`, { room: "ops", user: "alice" });
    const ids = () => b.emulator.executions.filter((e) => e.action.ref === "ops.status").map((e) => e.id);
    await waitFor("results", () => ids().length === n && ids().every((id) => b.backend.sent.some((m) => m.text.includes(`execution: ${id}`))), 20_000);
    const sent = b.backend.sent.filter((m) => m.target.kind === "room" && m.target.id === "ops").map((m) => m.text);
    for (const id of ids()) {
      const ack = sent.findIndex((t) => t.startsWith("I'll take it from here!") && t.includes(id));
      const result = sent.findIndex((t) => t.includes(`execution: ${id}`));
      expect(ack).toBeGreaterThanOrEqual(0);
      expect(ack).toBeLessThan(result);
    }
    // Both went through Redis: the stream saw every ack and every result.
    expect(b.app.cluster!.intake.counts.appended).toBeGreaterThanOrEqual(2 * n);
  }, 60_000);
});
