/**
 * The Rocket.Chat backend against a wire-level Rocket.Chat emulator (REST over HTTP, DDP over a
 * real WebSocket) on loopback.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { retryAfterMs } from "../../src/chat/rocketchat/errors.ts";
import { parseStreamed, toMessage } from "../../src/chat/rocketchat/events.ts";
import { FAILURE_COLOR } from "../../src/chat/rocketchat/format.ts";
import { createRocketChatBackend, messageIdFor, type RocketChatDeps } from "../../src/chat/rocketchat/index.ts";
import type { ChatBackend, Message } from "../../src/chat/types.ts";
import { parseConfig } from "../../src/config/load.ts";
import { BACKEND_SECTIONS, BACKENDS } from "../../src/chat/registry.ts";
import { Backoff } from "../../src/lib/backoff.ts";
import { ConfigError, SendError } from "../../src/lib/errors.ts";
import { captureLogs, redact } from "../../src/lib/log.ts";
import { type EmuMessage, type RocketChatEmulator, type RocketChatEmulatorOptions, startRocketChatEmulator } from "../emulators/rocketchat.ts";
import { type BackendHarness, runBackendContract, stallBy } from "./contract.ts";
import { waitFor } from "../support/wait.ts";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

const BOT_TOKEN = "pat-RC-bot-7Hq2kP9xZm4Lw8Vt3Nc";
const BOT_PASSWORD = "rc-bot-password-Secret-42";

function emulator(opts: Partial<RocketChatEmulatorOptions> = {}): RocketChatEmulator {
  return startRocketChatEmulator({
    users: [
      { username: "st2bot", id: "BotUserId00000001", token: BOT_TOKEN, password: BOT_PASSWORD, name: "StackStorm" },
      { username: "alice", name: "Alice Liddell" },
      { username: "bob" },
    ],
    rooms: [
      { name: "general", members: ["st2bot", "alice", "bob"] },
      { name: "ops", t: "p", members: ["st2bot", "alice"] },
      { name: "ops-alerts", members: ["st2bot"] },
      { name: "secret", t: "p", members: ["alice"] },
      { name: "random", members: ["alice"] },
    ],
    ...opts,
  });
}

type Auth = { user_id: string; token: string } | { user: string; password: string };
const tokenAuth = (emu: RocketChatEmulator): Auth => ({ user_id: emu.user("st2bot")._id, token: BOT_TOKEN });

function backendFor(emu: RocketChatEmulator, auth: Auth = tokenAuth(emu), deps: RocketChatDeps = {}): ChatBackend {
  const lines = ["[rocketchat]", `url = "${emu.url}"`, ...Object.entries(auth).map(([k, v]) => `${k} = "${v}"`)];
  const config = parseConfig(lines.join("\n"), "test.toml", {}, BACKEND_SECTIONS);
  return createRocketChatBackend(config, { backoff: new Backoff({ initialMs: 30, maxMs: 300 }), ...deps });
}

const connected = (b: ChatBackend) => waitFor("connected", () => b.status().state === "connected");
const failure = (p: Promise<unknown>) => p.then(() => { throw new Error("expected a failure"); }, (e: unknown) => e);
const textOf = (m: EmuMessage) => m.msg || ((m.attachments ?? []) as { text?: string }[]).map((a) => a.text ?? "").join("\n");

runBackendContract("rocketchat", async (): Promise<BackendHarness> => {
  const emu = emulator();
  return {
    backend: backendFor(emu),
    userSays: async (text, where) => void emu.userSays({ user: "alice", room: where.room ?? "@st2bot", text, ...(where.thread ? { tmid: where.thread } : {}) }),
    delivered: () => emu.received.map((m) => ({ to: emu.describeRoom(m.rid), thread: m.tmid, text: textOf(m), rich: m.attachments })),
    room: { st2Name: "#general", deliveredTo: "#general" },
    user: { st2Name: "@alice", deliveredTo: "@alice" },
    dropConnection: async () => emu.dropSockets(),
    stall: stallBy(emu),
    teardown: () => emu.stop(),
  };
});

describe("rocketchat backend", () => {
  let emu: RocketChatEmulator;
  let bot: ChatBackend;
  const inbox: Message[] = [];
  const next = (text: string) => waitFor(`message "${text}"`, () => inbox.find((m) => m.text.includes(text)));

  beforeAll(async () => {
    emu = emulator();
    bot = backendFor(emu);
    await bot.start((m) => void inbox.push(m));
  });
  afterAll(async () => {
    await bot.stop();
    await emu.stop();
  });

  describe("identities and rooms", () => {
    test("a room message is from @username, its source_channel the room id, its name #room", async () => {
      const sent = emu.userSays({ user: "alice", room: "#general", text: "!st2 id check" });
      const m = await next("id check");
      expect(m.from).toMatchObject({ id: emu.user("alice")._id, nick: "alice", fullName: "Alice Liddell", aclId: "@alice", st2User: "@alice" });
      expect(m.room).toEqual({ id: sent.rid, name: "#general" });
      expect(bot.sourceChannel(m)).toBe(emu.room("#general")._id);
      expect(m.direct).toBe(false);
    });

    test("a direct message's source_channel is its direct room, and the reply goes there without im.create", async () => {
      const sent = emu.userSays({ user: "bob", room: "@st2bot", text: "!st2 dm check" });
      const m = await next("dm check");
      expect(m.direct).toBe(true);
      expect(bot.sourceChannel(m)).toBe(sent.rid);
      const before = emu.requests.filter((r) => r.endsWith("im.create")).length;
      await bot.send(bot.replyTarget(m), { text: "dm reply" });
      expect(emu.received.at(-1)).toMatchObject({ rid: sent.rid, msg: "dm reply" });
      expect(emu.requests.filter((r) => r.endsWith("im.create")).length).toBe(before);
    });

    test("the bot's own messages, system messages, edits and repeats are not delivered", async () => {
      await bot.send({ kind: "room", id: emu.room("#general")._id }, { text: "!st2 from the bot itself" });
      emu.userSays({ user: "alice", room: "#general", text: "!st2 system", t: "uj" });
      const original = emu.userSays({ user: "alice", room: "#general", text: "!st2 original once" });
      emu.edit(original._id, "!st2 edited twice");
      emu.userSays({ user: "alice", room: "#general", text: "!st2 marker after" });
      await next("marker after");
      expect(inbox.filter((m) => /from the bot itself|system|edited twice/.test(m.text))).toEqual([]);
      expect(inbox.filter((m) => m.text.includes("original once"))).toHaveLength(1);
    });

    test("a public channel the bot is not in is streamed by the server but not answered", async () => {
      emu.userSays({ user: "alice", room: "#random", text: "!st2 not for the bot" });
      emu.userSays({ user: "alice", room: "#general", text: "!st2 marker two" });
      await next("marker two");
      expect(inbox.some((m) => m.text.includes("not for the bot"))).toBe(false);
    });

    test("a leading @mention is stripped and marks the message; the bot answers to its username", async () => {
      emu.userSays({ user: "alice", room: "#general", text: "@st2bot: st2 run it" });
      const m = await next("st2 run it");
      expect(m.text).toBe("st2 run it");
      expect(m.mentioned).toBe(true);
      expect(bot.botNames()).toContain("@st2bot");
    });
  });

  describe("threads", () => {
    test("a message in a thread carries tmid, and the reply goes back into it", async () => {
      const parent = emu.userSays({ user: "alice", room: "#general", text: "the web tier is slow" });
      emu.userSays({ user: "alice", room: "#general", text: "!st2 in thread", tmid: parent._id });
      const m = await next("in thread");
      expect(m.thread).toBe(parent._id);
      await bot.send(bot.replyTarget(m), { text: "thread answer" });
      expect(emu.received.at(-1)).toMatchObject({ tmid: parent._id, msg: "thread answer" });
    });
  });

  describe("StackStorm's strings", () => {
    const ids = () => ({ general: emu.room("#general")._id, alice: emu.user("alice")._id });
    test("channels by #name, bare name and id; users by @name, bare name and id", async () => {
      const { general, alice } = ids();
      for (const c of ["#general", "general", general]) expect(await bot.resolve("channel", c)).toEqual({ kind: "room", id: general, name: "#general" });
      for (const u of ["@alice", "alice", alice]) expect(await bot.resolve("user", u)).toEqual({ kind: "user", id: alice, name: "@alice" });
    });

    test("a direct room id resolves to that room", async () => {
      const dm = emu.directRoom("alice", "st2bot");
      expect(await bot.resolve("channel", dm._id)).toMatchObject({ kind: "room", id: dm._id });
    });

    test("names that name nothing, and rooms the bot may not see, are final errors", async () => {
      for (const [kind, v] of [["channel", "#nowhere"], ["user", "@nobody"], ["channel", "two words"], ["channel", "#secret"]] as const) {
        const err = await failure(bot.resolve(kind, v));
        expect(err).toBeInstanceOf(SendError);
        expect((err as SendError).retryable).toBe(false);
      }
    });
  });

  describe("rich messages on the wire", () => {
    const general = () => ({ kind: "room" as const, id: emu.room("#general")._id });
    test("plain text is msg without attachments", async () => {
      await bot.send(general(), { text: "*plain* text" });
      expect(emu.received.at(-1)).toMatchObject({ msg: "*plain* text" });
      expect(emu.received.at(-1)!.attachments).toBeUndefined();
    });

    test("extra.rocketchat and extra.color make one attachment; the {~} pretext is the msg", async () => {
      await bot.send(general(), { text: "Deploy{~}all green", extra: { color: "#2eb886", rocketchat: { title: "deploy", title_link: "https://st2.example.com/x", fields: [{ title: "host", value: 1, short: true }] } } });
      const m = emu.received.at(-1)!;
      expect(m.msg).toBe("Deploy");
      expect(m.attachments).toEqual([{ color: "#2eb886", text: "all green", title: "deploy", title_link: "https://st2.example.com/x", fields: [{ title: "host", value: "1", short: true }] }]);
    });

    test("a failed execution is coloured as a failure; javascript: links and unknown keys never reach the server", async () => {
      await bot.send(general(), { text: "status : failed", extra: { rocketchat: { title_link: "javascript:alert(1)", author_icon: "https://x.example/i.png", onclick: "x" } } });
      expect(emu.received.at(-1)!.attachments).toEqual([{ color: FAILURE_COLOR, text: "status : failed", author_icon: "https://x.example/i.png" }]);
    });
  });

  describe("sending once, limits and failures", () => {
    const general = () => ({ kind: "room" as const, id: emu.room("#general")._id });
    test("a send with an id uses chat.sendMessage with a stable _id of the server's form", async () => {
      await bot.send(general(), { text: "with id", id: "7.1733400000000.0" });
      const m = emu.received.at(-1)!;
      expect(m._id).toBe(messageIdFor(emu.user("st2bot")._id, "7.1733400000000.0"));
      expect(m._id).toMatch(/^[23456789A-HJ-NP-Za-km-z]{17}$/);
      expect(emu.requests.at(-1)).toBe("POST /api/v1/chat.sendMessage");
      expect(messageIdFor("anotherBotUser001", "7.1733400000000.0")).not.toBe(m._id);
    });

    for (const duplicateIdReply of ["error", "empty"] as const) {
      test(`a retry after a lost answer is posted once (server answers a repeated _id with ${duplicateIdReply === "error" ? "an error" : "no message"})`, async () => {
        const own = emulator({ duplicateIdReply });
        const b = backendFor(own);
        try {
          await b.start(() => undefined);
          const rid = own.room("#general")._id;
          own.loseReplies(1);
          const first = await failure(b.send({ kind: "room", id: rid }, { text: "exactly once", id: "42.1.0" }));
          expect((first as SendError).retryable).toBe(true);
          await b.send({ kind: "room", id: rid }, { text: "exactly once", id: "42.1.0" });
          expect(own.received.filter((m) => m.msg === "exactly once")).toHaveLength(1);
        } finally {
          await b.stop();
          await own.stop();
        }
      });
    }

    test("a refused send whose _id is not there is still an error", async () => {
      const err = await failure(bot.send({ kind: "room", id: "NoSuchRoom0000001" }, { text: "lost", id: "43.1.0" }));
      expect(err).toBeInstanceOf(SendError);
      expect((err as SendError).retryable).toBe(false);
    });

    test("a 429 is retryable and waits until X-RateLimit-Reset; the next send goes through", async () => {
      emu.inject429(1, 1500);
      const err = (await failure(bot.send(general(), { text: "limited" }))) as SendError;
      expect(err.retryable).toBe(true);
      expect(err.retryAfterMs).toBeGreaterThan(500);
      expect(err.retryAfterMs).toBeLessThanOrEqual(1500);
      await bot.send(general(), { text: "after the limit" });
      expect(emu.received.at(-1)!.msg).toBe("after the limit");
    });

    test("the reset is read on our clock, on the server's Date when the clocks disagree, then the error text, then one second", () => {
      const now = Date.parse("2026-12-05T16:00:00Z");
      const h = (x: Record<string, string>) => new Headers(x);
      expect(retryAfterMs(h({ "x-ratelimit-reset": String(now + 7250), date: new Date(now - 1000).toUTCString() }), "", now)).toBe(7250);
      expect(retryAfterMs(h({ "x-ratelimit-reset": String(now + 7000), date: new Date(now).toUTCString() }), "", now + 60_000)).toBe(7000);
      expect(retryAfterMs(h({}), "You must wait 12 seconds before trying this endpoint again.")).toBe(12_000);
      expect(retryAfterMs(h({}), "")).toBe(1000);
      expect(retryAfterMs(h({ "x-ratelimit-reset": String(now + 86_400_000), date: new Date(now).toUTCString() }), "")).toBe(600_000);
    });

    test("the message limit is the configured Message_MaxAllowedSize (5000 by default)", () => {
      expect(bot.maxMessageLength).toBe(5000);
    });
  });
});

describe("rocketchat login, connection and status", () => {
  let emu: RocketChatEmulator;
  const running: ChatBackend[] = [];
  const make = (auth?: Auth, deps: RocketChatDeps = {}) => {
    const b = backendFor(emu, auth ?? tokenAuth(emu), deps);
    running.push(b);
    return b;
  };
  beforeAll(() => {
    emu = emulator({ serverPingMs: 50 });
  });
  afterEach(async () => {
    for (const b of running.splice(0)) await b.stop();
  });
  afterAll(() => emu.stop());

  test("logs in with user and password and talks both ways", async () => {
    const inbox: Message[] = [];
    const b = make({ user: "st2bot", password: BOT_PASSWORD });
    await b.start((m) => void inbox.push(m));
    expect(emu.requests).toContain("POST /api/v1/login");
    emu.userSays({ user: "alice", room: "#general", text: "!st2 via password" });
    await waitFor("message", () => inbox.find((m) => m.text === "!st2 via password"));
    await b.send(await b.resolve("user", "@alice"), { text: "hello alice" });
    expect(emu.describeRoom(emu.received.at(-1)!.rid)).toBe("@alice");
  });

  test("refused credentials stop start() with a ConfigError that never echoes the secret", async () => {
    for (const auth of [{ user: "st2bot", password: "wrong-password-9" }, { user_id: emu.user("st2bot")._id, token: "wrong-token-XYZ" }]) {
      const err = await failure(make(auth).start(() => undefined));
      expect(err).toBeInstanceOf(ConfigError);
      expect(String((err as Error).message)).not.toContain(Object.values(auth)[1]);
    }
  });

  test("a token the realtime API refuses is a ConfigError too", async () => {
    emu.refuseResume = true;
    try {
      expect(await failure(make().start(() => undefined))).toBeInstanceOf(ConfigError);
    } finally {
      emu.refuseResume = false;
    }
  });

  test("missing url or credentials are ConfigErrors at construction", () => {
    const parse = (t: string) => parseConfig(t, "t.toml", {}, BACKEND_SECTIONS);
    expect(() => createRocketChatBackend(parse(`[rocketchat]\nurl = "${emu.url}"\ntoken = "x"`))).toThrow(ConfigError);
    expect(() => createRocketChatBackend(parse(`[rocketchat]\nuser = "a"\npassword = "b"`))).toThrow(ConfigError);
  });

  test("answers the server's pings", async () => {
    const b = make();
    await b.start(() => undefined);
    const before = emu.pongs;
    await waitFor("pongs", () => emu.pongs >= before + 2);
  });

  test("a dropped socket shows as disconnected, then connects, logs in and subscribes again", async () => {
    const inbox: Message[] = [];
    const b = make();
    await b.start((m) => void inbox.push(m));
    emu.dropSockets();
    await waitFor("disconnected", () => b.status().state === "disconnected");
    await connected(b);
    await waitFor("resubscribed", () => emu.subscribedSockets === 1);
    emu.userSays({ user: "alice", room: "#general", text: "!st2 after drop" });
    await waitFor("message after the drop", () => inbox.find((m) => m.text === "!st2 after drop"));
  });

  test("a realtime login the server rate-limits is retried no sooner than its timeToReset", async () => {
    const b = make();
    await b.start(() => undefined);
    emu.limitLogins(1, 400);
    const dropped = Date.now();
    emu.dropSockets();
    await waitFor("rate-limited", () => b.status().detail?.includes("rate-limited"));
    await waitFor("connected again", () => b.status().state === "connected" && emu.subscribedSockets === 1, 3000);
    expect(Date.now() - dropped).toBeGreaterThanOrEqual(390);
  });

  test("a socket that goes silent is found by our pings and replaced", async () => {
    const inbox: Message[] = [];
    const b = make(undefined, { pingIntervalMs: 60 });
    await b.start((m) => void inbox.push(m));
    emu.silenceSockets();
    await waitFor("replaced", () => emu.subscribedSockets === 1 && b.status().state === "connected", 3000);
    emu.userSays({ user: "alice", room: "#general", text: "!st2 after silence" });
    await waitFor("message after silence", () => inbox.find((m) => m.text === "!st2 after silence"));
  });

  test("a server that is down at start is retried until it answers", async () => {
    const down = startRocketChatEmulator({ users: [{ username: "st2bot", id: "BotUserId00000001", token: BOT_TOKEN }], rooms: [] });
    const url = down.url;
    await down.stop();
    const b = backendFor({ url } as RocketChatEmulator, { user_id: "BotUserId00000001", token: BOT_TOKEN });
    running.push(b);
    await b.start(() => undefined);
    expect(b.status().state).toBe("disconnected");
    const up = startRocketChatEmulator({ users: [{ username: "st2bot", id: "BotUserId00000001", token: BOT_TOKEN }], rooms: [], port: Number(url.split(":").at(-1)) });
    try {
      await waitFor("connected once up", () => b.status().state === "connected", 5000);
    } finally {
      await b.stop();
      await up.stop();
    }
  });

  test("secrets never reach the log", async () => {
    const lines: string[] = [];
    const release = captureLogs((l) => lines.push(l));
    try {
      const b = make({ user: "st2bot", password: BOT_PASSWORD });
      await b.start(() => undefined);
      await failure(make({ user_id: emu.user("st2bot")._id, token: "wrong-token-Q" }).start(() => undefined));
    } finally {
      release();
    }
    const all = lines.join("\n");
    expect(all).toContain("logged in");
    expect(all).not.toContain(BOT_PASSWORD);
    expect(all).not.toContain(BOT_TOKEN);
  });
});

describe("rocketchat events", () => {
  const me = { _id: "BotUserId00000001", username: "st2bot" };
  const frame = (rid: string, extra?: unknown) => ({
    eventName: "__my_messages__",
    args: [{ _id: "MsgId000000000001", rid, msg: "!st2 hi", u: { _id: "AliceId0000000001", username: "alice" }, ts: { $date: 1 } }, ...(extra ? [extra] : [])],
  });

  test("without room details, a direct room is recognised by the bot's id in its room id", () => {
    expect(toMessage(parseStreamed(frame(`AliceId0000000001${me._id}`))!, me).direct).toBe(true);
    expect(toMessage(parseStreamed(frame("GENERAL"))!, me)).toMatchObject({ direct: false, room: { id: "GENERAL", name: "GENERAL" } });
  });

  test("other events of the stream and malformed messages are ignored", () => {
    expect(parseStreamed({ eventName: "GENERAL", args: frame("GENERAL").args })).toBeUndefined();
    expect(parseStreamed({ eventName: "__my_messages__", args: [{ _id: "x", rid: "y" }] })).toBeUndefined();
    expect(parseStreamed("nonsense")).toBeUndefined();
  });
});

describe("rocketchat settings", () => {
  const info = BACKENDS.find((b) => b.name === "rocketchat")!;
  const section = (toml: string) => v.parse(info.schema, parseConfig(`[rocketchat]\n${toml}`, "t.toml", {}, BACKEND_SECTIONS).rocketchat);

  test("doctor lists what is missing, as the constructor does", () => {
    expect(info.missing(section(""))).toEqual(["rocketchat.url", "rocketchat.user_id and token (or token_file), or rocketchat.user and password (or password_file)"]);
    expect(info.missing(section(`url = "https://chat.example.com"\ntoken = "t"`))).toEqual(["rocketchat.user_id (the personal access token's user id)"]);
    expect(info.missing(section(`url = "https://chat.example.com"\nuser = "st2bot"\npassword = "p"`))).toEqual([]);
  });

  test("doctor warns about a token sent over plain http to another host, not to this machine", () => {
    const advice = (url: string) => info.advice!(section(`url = "${url}"\nuser_id = "u"\ntoken = "t"`)).map((a) => a.what);
    expect(advice("http://chat.example.com")).toEqual([expect.stringContaining("unencrypted")]);
    expect(advice("http://127.0.0.1:3000")).toEqual([]);
    expect(advice("https://chat.example.com")).toEqual([]);
  });

  test("token_file and password_file are read and the secrets redacted", async () => {
    const dir = tmp("rc");
    writeFileSync(join(dir, "token"), "file-token-Zz9Yy8Xx7\n");
    const config = parseConfig(`[rocketchat]\nurl = "https://chat.example.com"\nuser_id = "u1"\ntoken_file = "${join(dir, "token")}"`, "t.toml", {}, BACKEND_SECTIONS);
    expect(section(`token_file = "${join(dir, "token")}"`).token).toBe("file-token-Zz9Yy8Xx7");
    expect(redact("auth file-token-Zz9Yy8Xx7")).not.toContain("file-token-Zz9Yy8Xx7");
    expect(() => createRocketChatBackend(config)).not.toThrow();
  });
});
