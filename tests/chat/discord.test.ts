/**
 * The Discord backend against a wire-level Discord emulator (REST v10 + the gateway WebSocket),
 * driven through the real @discordjs/rest and @discordjs/ws on loopback.
 */
import { describe, expect, test } from "bun:test";
import { createDiscordBackend, type DiscordDeps, nonceFor } from "../../src/chat/discord/index.ts";
import { addressee, colorValue, formatMessage, FAILURE_COLOR } from "../../src/chat/discord/format.ts";
import type { ChatBackend } from "../../src/chat/types.ts";
import { parseConfig } from "../../src/config/load.ts";
import { BACKEND_SECTIONS } from "../../src/chat/registry.ts";
import { Backoff } from "../../src/lib/backoff.ts";
import { ConfigError, SendError } from "../../src/lib/errors.ts";
import { type DiscordEmulator, type EmuMessage, startDiscordEmulator } from "../emulators/discord.ts";
import { type BackendHarness, runBackendContract, stallBy, startedBackend } from "./contract.ts";
import { waitFor } from "../support/wait.ts";

const TOKEN = "MTE4MDAwMDAwMDAwMDAwMDAwMA.Gx1234.discord-test-token-abcdef";

function emulator(opts: { messageContentAllowed?: boolean; heartbeatIntervalMs?: number } = {}) {
  const emu = startDiscordEmulator({ token: TOKEN, heartbeatIntervalMs: 200, ...opts });
  emu.addUser("alice", "Alice Liddell");
  emu.addUser("bob");
  const ops = emu.addChannel("ops");
  emu.addChannel("general");
  emu.addChannel("deploys", ops.id);
  return emu;
}

function backendFor(emu: DiscordEmulator, token = TOKEN, deps: DiscordDeps = {}): ChatBackend {
  const config = parseConfig(`[discord]\ntoken = "${token}"\napi_url = "${emu.apiUrl}"`, "test.toml", {}, BACKEND_SECTIONS);
  return createDiscordBackend(config, { backoff: new Backoff({ initialMs: 30, maxMs: 300 }), readyTimeoutMs: 5000, ...deps });
}

const failure = (p: Promise<unknown>) => p.then(() => { throw new Error("expected a failure"); }, (e: unknown) => e);
const textOf = (m: EmuMessage) => m.content || m.embeds.map((e) => String(e.description ?? "")).join("\n");

runBackendContract("discord", async (): Promise<BackendHarness> => {
  const emu = emulator();
  const alice = emu.user("alice");
  const roomId = (name: string) => emu.channel(name.replace(/^#/, "")).id;
  return {
    backend: backendFor(emu),
    userSays: async (text, where) => {
      emu.say("alice", where.room ? roomId(where.room) : emu.dmWith(alice.id).id, text);
    },
    delivered: () => emu.received.map((m) => ({ to: emu.describe(m.channel_id), text: textOf(m), rich: m.embeds })),
    room: { st2Name: "#ops", deliveredTo: "#ops" },
    user: { st2Name: `<@${alice.id}>`, deliveredTo: "@alice" },
    dropConnection: async () => emu.dropGateway(),
    stall: stallBy(emu),
    teardown: () => emu.stop(),
  };
});

describe("discord backend", () => {
  let emu: DiscordEmulator;
  let bot: ChatBackend;
  const { inbox, next } = startedBackend(() => (bot = backendFor((emu = emulator()))), () => emu.stop());

  test("identity: user <@id> with the username kept, source_channel <#id>, a DM's is the sender", async () => {
    const alice = emu.user("alice");
    const ops = emu.channel("ops");
    emu.say("alice", ops.id, "!st2 who am i");
    const m = await next("who am i");
    expect(m.from).toMatchObject({ id: alice.id, nick: "alice", fullName: "Alice Liddell", aclId: `<@${alice.id}>`, st2User: `<@${alice.id}>` });
    expect(m.room).toEqual({ id: ops.id, name: "#ops" });
    expect(bot.sourceChannel(m)).toBe(`<#${ops.id}>`);
    emu.say("alice", emu.dmWith(alice.id).id, "!st2 dm who");
    const dm = await next("dm who");
    expect(dm.direct).toBe(true);
    expect(bot.sourceChannel(dm)).toBe(`<@${alice.id}>`);
    expect(bot.replyTarget(dm)).toMatchObject({ kind: "user", id: alice.id });
  });

  test("the bot's own echoes and other bots are not commands; a mention is noticed", async () => {
    await bot.send({ kind: "room", id: emu.channel("ops").id }, { text: "!st2 echo from the bot" });
    const me = bot.botNames()[0]!;
    expect(me).toBe(`<@${emu.bot.id}>`);
    emu.say("alice", emu.channel("ops").id, `${me} st2 status please`);
    const m = await next("status please");
    expect(m.mentioned).toBe(true);
    expect(m.text).toBe("st2 status please"); // the leading mention is stripped, as the router expects
    expect(inbox.some((x) => x.text.includes("echo from the bot"))).toBe(false);
  });

  test("a message in a thread belongs to its parent room, with the thread; replies go into the thread", async () => {
    const ops = emu.channel("ops");
    const thread = emu.channel("deploys");
    emu.say("alice", thread.id, "!st2 in the thread");
    const m = await next("in the thread");
    expect(m.room?.id).toBe(ops.id);
    expect(m.thread).toBe(thread.id);
    expect(bot.sourceChannel(m)).toBe(`<#${ops.id}>`);
    await bot.send(bot.replyTarget(m), { text: "thread reply" });
    const sent = await waitFor("thread reply", () => emu.received.find((x) => x.content === "thread reply"));
    expect(emu.describe(sent.channel_id)).toBe("#ops/deploys");
  });

  test("a thread id naming a message (thread_response) becomes a Discord reply (message_reference)", async () => {
    const ops = emu.channel("ops");
    const asked = emu.say("alice", ops.id, "!st2 reply to me");
    await next("reply to me");
    await bot.send({ kind: "room", id: ops.id, thread: asked.id }, { text: "replying" });
    const sent = await waitFor("reply", () => emu.received.find((x) => x.content === "replying"));
    expect(sent.channel_id).toBe(ops.id);
    expect(sent.message_reference).toMatchObject({ message_id: asked.id, fail_if_not_exists: false });
  });

  test("a retried send with the same outbox id is posted once (nonce + enforce_nonce)", async () => {
    const ops = emu.channel("ops");
    const id = "42.0.1733400000000";
    await bot.send({ kind: "room", id: ops.id }, { text: "exactly once", id });
    await bot.send({ kind: "room", id: ops.id }, { text: "exactly once", id });
    expect(emu.received.filter((m) => m.content === "exactly once")).toHaveLength(1);
    const attempts = emu.sendAttempts.filter((a) => a.nonce === nonceFor(id));
    expect(attempts).toHaveLength(2);
    expect(nonceFor(id).length).toBeLessThanOrEqual(25);
    expect(nonceFor("42.1.1733400000000")).not.toBe(nonceFor(id));
  });

  test("a 429 is a retryable SendError carrying Retry-After, never a message lost or waited on in secret", async () => {
    const general = emu.channel("general");
    emu.inject429(1, 2);
    const started = Date.now();
    const err = await failure(bot.send({ kind: "room", id: general.id }, { text: "limited" }));
    expect(Date.now() - started).toBeLessThan(1500); // surfaced at once, not slept on inside the library
    expect(err).toBeInstanceOf(SendError);
    expect((err as SendError).retryable).toBe(true);
    expect((err as SendError).retryAfterMs).toBeGreaterThanOrEqual(2000);
    expect(emu.received.some((m) => m.content === "limited")).toBe(false);
  });

  test("an exhausted channel bucket (X-RateLimit-Remaining 0) surfaces its reset as retry-after", async () => {
    const c = emu.addChannel("burst");
    for (let i = 0; i < 5; i++) await bot.send({ kind: "room", id: c.id }, { text: `burst ${i}` });
    const err = await failure(bot.send({ kind: "room", id: c.id }, { text: "burst 5" }));
    expect(err).toBeInstanceOf(SendError);
    expect((err as SendError).retryAfterMs).toBeGreaterThan(1000);
    expect(emu.received.filter((m) => m.channel_id === c.id)).toHaveLength(5);
  });

  test("results never ping @everyone or roles; only the addressed user may be pinged", async () => {
    const alice = emu.user("alice");
    const ops = emu.addChannel("mentions");
    await bot.send({ kind: "room", id: ops.id }, { text: `<@${alice.id}>: done @everyone <@&123456789012345678>` });
    const sent = await waitFor("mention", () => emu.received.find((x) => x.content.includes("done @everyone")));
    expect(sent.allowed_mentions).toEqual({ parse: [], users: [alice.id], replied_user: false });
    expect(formatMessage({ text: "@here all good" }).allowed_mentions).toEqual({ parse: [], replied_user: false });
    expect(addressee(`text <@${alice.id}>`)).toBeUndefined();
  });

  test("extra becomes an embed: colour, fields, footer; a failed execution is red", async () => {
    const c = emu.addChannel("embeds"); // a fresh bucket: #ops spent its 5 per 5 s above
    await bot.send({ kind: "room", id: c.id }, {
      text: "Deployed{~}web1 is *up*, see <https://ci.example.com/1|the build>",
      extra: { color: "#2eb886", discord: { title: "deploy", fields: [{ name: "host", value: "web1", inline: true }], footer: { text: "st2" } } },
    });
    const sent = await waitFor("embed", () => emu.received.find((x) => x.content === "Deployed"));
    expect(sent.embeds).toEqual([
      { title: "deploy", description: "web1 is *up*, see [the build](https://ci.example.com/1)", color: 0x2eb886, fields: [{ name: "host", value: "web1", inline: true }], footer: { text: "st2" } },
    ]);
    const failed = formatMessage({ text: "Action x failed.\nstatus : failed" });
    expect(failed.embeds?.[0]?.color).toBe(FAILURE_COLOR);
    const slack = formatMessage({ text: "r", extra: { slack: { color: "danger", fields: [{ title: "t", value: "v", short: true }], footer: "f" } } });
    expect(slack.embeds?.[0]).toMatchObject({ color: colorValue("danger"), fields: [{ name: "t", value: "v", inline: true }], footer: { text: "f" } });
  });

  test("a part split to exactly 2,000 characters stays within the limit after link conversion", () => {
    const link = "<https://ci.example.com/b/1|build>";
    const text = link.repeat(Math.floor(2000 / link.length)).padEnd(2000, "x");
    expect(text.length).toBe(2000);
    expect(formatMessage({ text }).content.length).toBeLessThanOrEqual(2000);
    expect(formatMessage({ text: "see <https://x.example|it>" }).content).toBe("see [it](https://x.example)");
  });

  test("resolves st2bot's and err-backend-discord's strings", async () => {
    const alice = emu.user("alice");
    const ops = emu.channel("ops");
    const thread = emu.channel("deploys");
    expect(await bot.resolve("channel", `<#${ops.id}>`)).toMatchObject({ kind: "room", id: ops.id });
    expect(await bot.resolve("channel", "#ops")).toMatchObject({ kind: "room", id: ops.id });
    expect(await bot.resolve("channel", `#ops@${emu.guild.id}`)).toMatchObject({ kind: "room", id: ops.id });
    expect(await bot.resolve("channel", ops.id)).toMatchObject({ kind: "room", id: ops.id });
    expect(await bot.resolve("channel", `<#${thread.id}>`)).toMatchObject({ kind: "room", id: ops.id, thread: thread.id });
    expect(await bot.resolve("user", `<@${alice.id}>`)).toMatchObject({ kind: "user", id: alice.id });
    expect(await bot.resolve("user", `<@!${alice.id}>`)).toMatchObject({ kind: "user", id: alice.id });
    expect(await bot.resolve("user", "@alice#0")).toMatchObject({ kind: "user", id: alice.id });
    expect(await bot.resolve("user", "alice#0@ops")).toMatchObject({ kind: "user", id: alice.id });
    expect(await bot.resolve("channel", "alice#0@ops")).toMatchObject({ kind: "room", id: ops.id });
    expect(await bot.resolve("user", "alice")).toMatchObject({ kind: "user", id: alice.id });
    const missing = await failure(bot.resolve("user", "<@999999999999999999>"));
    expect(missing).toBeInstanceOf(SendError);
    expect((missing as SendError).retryable).toBe(false);
  });

  test("a dropped gateway is RESUMED (no new IDENTIFY) and missed events are replayed", async () => {
    const identifies = emu.stats.identifies;
    const resumes = emu.stats.resumes;
    emu.dropGateway();
    emu.say("alice", emu.channel("ops").id, "!st2 while away");
    await next("while away");
    await waitFor("resumed", () => emu.stats.resumes > resumes);
    expect(emu.stats.identifies).toBe(identifies);
    await waitFor("connected", () => bot.status().state === "connected");
    // HELLO asked for a beat every 200 ms: the library beats and the emulator ACKs (op 1 / op 11).
    const beats = emu.stats.heartbeats;
    await waitFor("heartbeats after the resume", () => emu.stats.heartbeats >= beats + 2);
    expect(bot.status().state).toBe("connected");
  });

  test("INVALID_SESSION makes the library IDENTIFY again", async () => {
    const identifies = emu.stats.identifies;
    emu.invalidateSessions();
    await waitFor("a new IDENTIFY", () => emu.stats.identifies > identifies, 8000);
    emu.say("alice", emu.channel("ops").id, "!st2 after invalid session");
    await next("after invalid session");
  }, 10_000);
});

describe("discord backend refusals", () => {
  test("a refused token fails start with a ConfigError (gateway close 4004 / 401)", async () => {
    const emu = emulator();
    const b = backendFor(emu, "not-the-token");
    const err = await failure(b.start(() => undefined));
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as Error).message)).not.toContain("not-the-token");
    expect(b.status().state).toBe("stopped");
    await emu.stop();
  });

  test("Message Content not enabled in the portal: ConfigError saying where to enable it (close 4014)", async () => {
    const emu = emulator({ messageContentAllowed: false });
    const b = backendFor(emu);
    const err = await failure(b.start(() => undefined));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain("Message Content");
    expect(emu.openSockets).toBe(0);
    await emu.stop();
  });

  test("the token is required, by the constructor and doctor alike", () => {
    const config = parseConfig(`[discord]\napi_url = "http://127.0.0.1:1/api"`, "t.toml", {}, BACKEND_SECTIONS);
    expect(() => createDiscordBackend(config)).toThrow(ConfigError);
  });
});

describe("discord backend stop", () => {
  test("stop while the library is resuming leaves no gateway connection behind", async () => {
    const emu = emulator();
    const b = backendFor(emu);
    await b.start(() => undefined);
    const connections = emu.stats.gatewayConnections;
    emu.dropGateway();
    await Bun.sleep(100); // the library noticed the close and waits 500 ms before reconnecting
    await b.stop();
    await Bun.sleep(1500);
    expect(emu.stats.gatewayConnections).toBe(connections);
    expect(emu.openSockets).toBe(0);
    await emu.stop();
  });
});
