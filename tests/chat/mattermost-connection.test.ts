/**
 * The Mattermost backend's login, connection and status against the wire-level emulator:
 * password sessions, refused credentials, drops and reconnects, rate limits on connect, doctor.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createMattermostBackend } from "../../src/chat/mattermost/index.ts";
import type { ChatBackend, Message } from "../../src/chat/types.ts";
import { parseConfig } from "../../src/config/load.ts";
import { BACKEND_SECTIONS } from "../../src/chat/registry.ts";
import { Backoff } from "../../src/lib/backoff.ts";
import { ConfigError, SendError } from "../../src/lib/errors.ts";
import { captureLogs } from "../../src/lib/log.ts";
import type { MattermostEmulator } from "../emulators/mattermost.ts";
import { waitFor } from "../support/wait.ts";
import { BOT_TOKEN, BOT_PASSWORD, emulator, backendFor, connected, failure } from "./mattermost-fixture.ts";

describe("mattermost login, connection and status", () => {
  const running: { emu: MattermostEmulator; bot?: ChatBackend }[] = [];
  const fresh = (maxPostSize?: number) => {
    const entry: { emu: MattermostEmulator; bot?: ChatBackend } = { emu: emulator({ maxPostSize }) };
    running.push(entry);
    return entry;
  };
  afterEach(async () => {
    for (const { emu, bot } of running.splice(0)) {
      await bot?.stop();
      await emu.stop();
    }
  });

  test("logs in with a personal access token, without a password login", async () => {
    const e = fresh();
    e.bot = backendFor(e.emu, { token: BOT_TOKEN });
    expect(e.bot.status().state).toBe("disconnected");
    await e.bot.start(() => undefined);
    await connected(e.bot);
    expect(e.emu.requests).toContain("GET /api/v4/users/me");
    expect(e.emu.requests).not.toContain("POST /api/v4/users/login");
    expect(e.bot.status().detail).toContain("@st2bot");
  });

  test("logs in with username and password and talks both ways", async () => {
    const e = fresh();
    const inbox: Message[] = [];
    e.bot = backendFor(e.emu, { login: "st2bot", password: BOT_PASSWORD });
    await e.bot.start((m) => void inbox.push(m));
    await connected(e.bot);
    expect(e.emu.requests).toContain("POST /api/v4/users/login");
    e.emu.postAsUser({ user: "alice", channel: "~town-square", message: "!st2 via password" });
    const m = await waitFor("message", () => inbox.find((x) => x.text.includes("via password")));
    await e.bot.send(e.bot.replyTarget(m), { text: "answer via password" });
    expect(e.emu.received.at(-1)!.message).toBe("answer via password");
  });

  test("an expired password session is renewed on the next send", async () => {
    const e = fresh();
    e.bot = backendFor(e.emu, { login: "st2bot", password: BOT_PASSWORD });
    await e.bot.start(() => undefined);
    await connected(e.bot);
    e.emu.expireSessions();
    await e.bot.send(await e.bot.resolve("channel", "~ops"), { text: "after expiry" });
    expect(e.emu.received.at(-1)!.message).toBe("after expiry");
    expect(e.emu.requests.filter((r) => r === "POST /api/v4/users/login").length).toBe(2);
  });

  test("an expired password session is renewed before reconnecting the socket", async () => {
    const e = fresh();
    const inbox: Message[] = [];
    e.bot = backendFor(e.emu, { login: "st2bot", password: BOT_PASSWORD });
    await e.bot.start((m) => void inbox.push(m));
    await connected(e.bot);
    e.emu.expireSessions();
    e.emu.dropSockets();
    await waitFor("a new login", () => e.emu.requests.filter((r) => r === "POST /api/v4/users/login").length === 2);
    await waitFor("socket back", () => e.emu.connectedSockets === 1 && e.bot!.status().state === "connected");
    e.emu.postAsUser({ user: "alice", channel: "~town-square", message: "!st2 after relogin" });
    await waitFor("message", () => inbox.find((x) => x.text.includes("after relogin")));
  });

  test("a slow handler does not hold up the next message", async () => {
    const e = fresh();
    const seen: string[] = [];
    e.bot = backendFor(e.emu);
    await e.bot.start(async (m) => {
      seen.push(m.text);
      if (m.text.includes("first")) await new Promise(() => undefined); // never finishes
    });
    await connected(e.bot);
    e.emu.postAsUser({ user: "alice", channel: "~town-square", message: "!st2 first" });
    e.emu.postAsUser({ user: "alice", channel: "~town-square", message: "!st2 second" });
    await waitFor("second message", () => seen.includes("!st2 second"));
    expect(seen).toEqual(["!st2 first", "!st2 second"]);
  });

  test("wrong credentials stop start() with a ConfigError that does not echo the secret", async () => {
    const e = fresh();
    e.bot = backendFor(e.emu, { login: "st2bot", password: "wrong-password-123" });
    const err = await failure(e.bot.start(() => undefined));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toContain("wrong-password-123");
    const bad = backendFor(e.emu, { token: "not-a-valid-token" });
    expect(await failure(bad.start(() => undefined))).toBeInstanceOf(ConfigError);
    await bad.stop();
  });

  test("an unknown team is a ConfigError", async () => {
    const e = fresh();
    e.bot = backendFor(e.emu, { token: BOT_TOKEN }, {}, "no-such-team");
    const err = await failure(e.bot.start(() => undefined));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain("no-such-team");
  });

  test("without a configured team, the bot's only team is used for ~names", async () => {
    const e = fresh();
    e.bot = backendFor(e.emu, { token: BOT_TOKEN }, {}, null);
    await e.bot.start(() => undefined);
    await connected(e.bot);
    expect(await e.bot.resolve("channel", "~ops")).toMatchObject({ kind: "room", name: "~ops" });
  });

  test("missing url or credentials are ConfigErrors at construction", () => {
    expect(() => createMattermostBackend(parseConfig(`[mattermost]\ntoken = "x"`, "t.toml", {}, BACKEND_SECTIONS))).toThrow(ConfigError);
    expect(() => createMattermostBackend(parseConfig(`[mattermost]\nurl = "http://127.0.0.1:1"`, "t.toml", {}, BACKEND_SECTIONS))).toThrow(ConfigError);
    expect(() => createMattermostBackend(parseConfig(`[mattermost]\nurl = "http://127.0.0.1:1"\nlogin = "bot"`, "t.toml", {}, BACKEND_SECTIONS))).toThrow(ConfigError);
  });

  test("the post limit follows the server's MaxPostSize", async () => {
    const e = fresh(4000);
    e.bot = backendFor(e.emu);
    expect(e.bot.maxMessageLength).toBe(4000);
    await e.bot.start(() => undefined);
    expect(e.bot.maxMessageLength).toBe(4000);
    const big = fresh(20000);
    big.bot = backendFor(big.emu);
    await big.bot.start(() => undefined);
    expect(big.bot.maxMessageLength).toBe(20000);
  });

  test("a drop shows as disconnected, then connected again with events flowing", async () => {
    const e = fresh();
    const inbox: Message[] = [];
    const states: string[] = [];
    e.bot = backendFor(e.emu);
    await e.bot.start((m) => void inbox.push(m));
    await connected(e.bot);
    const since = e.bot.status().since;
    e.emu.dropSockets();
    await waitFor("disconnected", () => {
      states.push(e.bot!.status().state);
      return e.bot!.status().state !== "connected";
    });
    await connected(e.bot);
    expect(states).toContain("disconnected");
    expect(e.bot.status().since).toBeGreaterThanOrEqual(since);
    e.emu.postAsUser({ user: "alice", channel: "~town-square", message: "!st2 back again" });
    await waitFor("message after drop", () => inbox.find((x) => x.text.includes("back again")));
    expect(e.emu.connectedSockets).toBe(1);
  });

  test("a server that is down at start is retried until it answers", async () => {
    const e = fresh();
    const port = Number(new URL(e.emu.url).port);
    await e.emu.stop();
    const config = parseConfig(`[mattermost]\nurl = "http://127.0.0.1:${port}"\ntoken = "${BOT_TOKEN}"\nteam = "st2"`, "t.toml", {}, BACKEND_SECTIONS);
    e.bot = createMattermostBackend(config, { backoff: new Backoff({ initialMs: 30, maxMs: 100 }) });
    await e.bot.start(() => undefined);
    expect(e.bot.status().state).toBe("disconnected");
    // A new server on the same port, as after a restart.
    const revived = emulator({ port });
    running.push({ emu: revived });
    await connected(e.bot);
  });

  test("a slow server turns a send into a retryable timeout", async () => {
    const e = fresh();
    e.bot = backendFor(e.emu, { token: BOT_TOKEN }, { requestTimeoutMs: 150 });
    await e.bot.start(() => undefined);
    await connected(e.bot);
    const room = await e.bot.resolve("channel", "~ops");
    e.emu.slow(400);
    const err = (await failure(e.bot.send(room, { text: "slow" }))) as SendError;
    expect(err).toBeInstanceOf(SendError);
    expect(err.retryable).toBe(true);
    const lookup = (await failure(e.bot.resolve("channel", "~town-square"))) as SendError;
    expect(lookup.retryable).toBe(true);
    e.emu.slow(0);
  });

  test("a socket that never says hello is replaced", async () => {
    const e = fresh();
    e.emu.silenceNextSockets(1);
    e.bot = backendFor(e.emu, { token: BOT_TOKEN }, { helloTimeoutMs: 200 });
    // start() waits for hello (or for the attempt to fail): look while it waits.
    const starting = e.bot.start(() => undefined);
    await Bun.sleep(100);
    expect(e.bot.status().state).toBe("connecting");
    await starting;
    await connected(e.bot);
    expect(e.emu.connectedSockets).toBe(1);
  });

  test("stop() ends the session and nothing reconnects afterwards", async () => {
    const e = fresh();
    e.bot = backendFor(e.emu);
    await e.bot.start(() => undefined);
    await connected(e.bot);
    await e.bot.stop();
    expect(e.bot.status().state).toBe("stopped");
    await waitFor("socket closed", () => e.emu.connectedSockets === 0);
    await Bun.sleep(200);
    expect(e.emu.connectedSockets).toBe(0);
  });

  test("secrets never reach the log", async () => {
    const lines: string[] = [];
    const restoreLogs = captureLogs((l) => void lines.push(l));
    try {
      const e = fresh();
      e.bot = backendFor(e.emu, { login: "st2bot", password: BOT_PASSWORD });
      await e.bot.start(() => undefined);
      await connected(e.bot);
      e.emu.dropSockets();
      await waitFor("reconnected", () => e.emu.connectedSockets === 1 && e.bot!.status().state === "connected");
      const bad = backendFor(e.emu, { token: BOT_TOKEN + "-revoked" });
      await failure(bad.start(() => undefined));
    } finally {
      restoreLogs();
    }
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join("\n")).not.toContain(BOT_PASSWORD);
    expect(lines.join("\n")).not.toContain(BOT_TOKEN);
  });
});
