/**
 * Two-factor confirmations in cluster mode (startApp with memory backends, real Redis): a
 * request held by the leader is kept in Redis (under a hash of its uuid, with a TTL), so its
 * confirmation still runs it — once — when it reaches the cluster after the leader went away,
 * even before the new leader was elected (the confirmation waits in the shared outbox).
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { AliasInput } from "../../src/emulator/index.ts";
import { TWOFACTOR_MESSAGE } from "../../src/bot/twofactor.ts";
import { MemoryBackend } from "../../src/chat/memory.ts";
import { API_KEY, startBot, type BotHarness } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";
import { haveRedis, RedisServer } from "../support/redis.ts";

const ALIASES: AliasInput[] = [
  { name: "deploy_prod", pack: "ops", action_ref: "ops.deploy", description: "Deploy", formats: ["deploy {{app}} to production"], extra: { security: { twofactor: true } } },
];
const ACTIONS = [
  { ref: "duo.auth_push", runner: "python-script" },
  { ref: "ops.deploy", runner: "python-script" },
];
const auth = `twofactor_action = "duo.auth_push"\n[stackstorm.api_auth]\napikey = "${API_KEY}"`;
const inOps = (m: { target: { kind: string; id: string } }) => m.target.kind === "room" && m.target.id === "ops";

describe.skipIf(!haveRedis())("cluster two-factor (real Redis)", () => {
  let redis: RedisServer | undefined;
  const bots: BotHarness[] = [];
  afterAll(async () => {
    for (const b of bots) await b.stop().catch(() => undefined);
    await redis?.close();
  });

  test("held on the leader, confirmed after a failover: runs once on the new leader", async () => {
    redis = await RedisServer.start();
    const cluster = (name: string) => `[cluster]\nredis_url = "${redis!.url}"\ninstance = "${name}"\nlease_seconds = 1\nrenew_seconds = 0.3\nsafety_margin_seconds = 0.2`;
    const a = await startBot({ auth, toml: cluster("a"), emulator: { aliases: ALIASES, actions: ACTIONS } });
    bots.push(a);
    await waitFor("a leads", () => a.app.cluster!.status().role === "leader");
    const b = await startBot({ auth, toml: cluster("b"), useEmulator: a.emulator, backend: new MemoryBackend({ name: "memory" }) });
    bots.push(b);
    await waitFor("streams open", () => a.app.streamState().state === "open" && b.app.streamState().state === "open");
    const deploys = () => a.emulator.executions.filter((e) => e.action.ref === "ops.deploy");
    const uuids = () => a.emulator.executions.filter((e) => e.action.ref === "duo.auth_push").map((e) => e.parameters.uuid as string);

    // Confirmed while the holder leads: its own held request runs.
    await a.say("!st2 deploy web to production", { room: "ops", user: "alice" });
    await a.next((m) => inOps(m) && m.text === TWOFACTOR_MESSAGE, "2FA message");
    a.emulator.announce("2fa", { uuid: uuids()[0] });
    await waitFor("first deploy", () => deploys().length === 1);
    await a.next((m) => inOps(m) && m.text.startsWith("I'll take it from here!"), "ack on a");

    // Held on a; a goes; the confirmation comes before b was elected.
    await a.say("!st2 deploy api to production", { room: "ops", user: "alice" });
    await a.next((m) => inOps(m) && m.text === TWOFACTOR_MESSAGE, "2FA message");
    const uuid = uuids()[1]!;
    const keys = redis.cli("KEYS", "*");
    expect(keys).toContain(":2fa:");
    // Neither the key nor the record names the uuid (the bearer of the confirmation).
    expect(keys).not.toContain(uuid);
    const key = keys.split("\n").find((k) => k.includes(":2fa:"))!;
    expect(redis.cli("GET", key)).not.toContain(uuid);
    expect(Number(redis.cli("PTTL", key))).toBeGreaterThan(0);

    await a.app.stop();
    bots.shift();
    a.emulator.announce("2fa", { uuid });
    await waitFor("b leads", () => b.app.cluster!.status().role === "leader", 10_000);
    await waitFor("second deploy", () => deploys().length === 2, 10_000);
    expect(deploys()[1]!.parameters).toEqual({ app: "api" });
    expect(deploys()[1]).toMatchObject({ apiUser: "alice", sourceChannel: "#ops" });
    await b.next((m) => inOps(m) && m.text.startsWith("I'll take it from here!"), "ack on the new leader");
    expect(redis.cli("KEYS", "*")).not.toContain(":2fa:");

    // The same confirmation again runs nothing.
    a.emulator.announce("2fa", { uuid });
    a.emulator.announce("errbot", { message: "marker", channel: "#ops" });
    await b.next((m) => inOps(m) && m.text === "marker", "marker");
    await Bun.sleep(100);
    expect(deploys()).toHaveLength(2);
  }, 60_000);
});
