/**
 * The Rocket.Chat tests' fixture: the emulated server with its people and rooms, a backend
 * configured against it (token or password), and the small waits both test files use.
 */
import { createRocketChatBackend, type RocketChatDeps } from "../../src/chat/rocketchat/index.ts";
import type { ChatBackend } from "../../src/chat/types.ts";
import { parseConfig } from "../../src/config/load.ts";
import { BACKEND_SECTIONS } from "../../src/chat/registry.ts";
import { Backoff } from "../../src/lib/backoff.ts";
import { type EmuMessage, type RocketChatEmulator, type RocketChatEmulatorOptions, startRocketChatEmulator } from "../emulators/rocketchat.ts";
import { waitFor } from "../support/wait.ts";

/** The bot's personal access token on the emulated server. */
export const BOT_TOKEN = "pat-RC-bot-7Hq2kP9xZm4Lw8Vt3Nc";
/** The bot account's password (for the user + password form). */
export const BOT_PASSWORD = "rc-bot-password-Secret-42";

/** A started emulator: the bot, alice and bob, public and private rooms. */
export function emulator(opts: Partial<RocketChatEmulatorOptions> = {}): RocketChatEmulator {
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

/** How the backend logs in: a personal access token with its user id, or a user and password. */
export type Auth = { user_id: string; token: string } | { user: string; password: string };
/** The bot's token login on `emu`. */
export const tokenAuth = (emu: RocketChatEmulator): Auth => ({ user_id: emu.user("st2bot")._id, token: BOT_TOKEN });

/** A Rocket.Chat backend against `emu` with a fast backoff. */
export function backendFor(emu: RocketChatEmulator, auth: Auth = tokenAuth(emu), deps: RocketChatDeps = {}): ChatBackend {
  const lines = ["[rocketchat]", `url = "${emu.url}"`, ...Object.entries(auth).map(([k, v]) => `${k} = "${v}"`)];
  const config = parseConfig(lines.join("\n"), "test.toml", {}, BACKEND_SECTIONS);
  return createRocketChatBackend(config, { backoff: new Backoff({ initialMs: 30, maxMs: 300 }), ...deps });
}

/** Waits until `b` reports connected. */
export const connected = (b: ChatBackend) => waitFor("connected", () => b.status().state === "connected");
/** The rejection of `p` (throws if it resolves). */
export const failure = (p: Promise<unknown>) => p.then(() => { throw new Error("expected a failure"); }, (e: unknown) => e);
/** A message's text, or its attachments' text, one per line. */
export const textOf = (m: EmuMessage) => m.msg || ((m.attachments ?? []) as { text?: string }[]).map((a) => a.text ?? "").join("\n");
