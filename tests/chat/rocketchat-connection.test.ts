/**
 * The Rocket.Chat backend's login, realtime connection and status, its event parsing and its
 * settings, against the wire-level emulator (REST over HTTP, DDP over a real WebSocket).
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { parseStreamed, toMessage } from "../../src/chat/rocketchat/events.ts";
import { createRocketChatBackend, type RocketChatDeps } from "../../src/chat/rocketchat/index.ts";
import type { ChatBackend, Message } from "../../src/chat/types.ts";
import { parseConfig } from "../../src/config/load.ts";
import { BACKEND_SECTIONS, BACKENDS } from "../../src/chat/registry.ts";
import { ConfigError } from "../../src/lib/errors.ts";
import { captureLogs, redact } from "../../src/lib/log.ts";
import { type RocketChatEmulator, startRocketChatEmulator } from "../emulators/rocketchat.ts";
import { waitFor } from "../support/wait.ts";
import { tempDirs } from "../support/tmp.ts";
import { BOT_TOKEN, BOT_PASSWORD, emulator, type Auth, tokenAuth, backendFor, connected, failure } from "./rocketchat-fixture.ts";

const tmp = tempDirs();

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
