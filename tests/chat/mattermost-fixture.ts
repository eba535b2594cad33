/**
 * The Mattermost tests' fixture: the emulated server with its people and channels, a backend
 * configured against it, and the small waits both test files use.
 */
import { createMattermostBackend, type MattermostDeps } from "../../src/chat/mattermost/index.ts";
import type { ChatBackend } from "../../src/chat/types.ts";
import { parseConfig } from "../../src/config/load.ts";
import { BACKEND_SECTIONS } from "../../src/chat/registry.ts";
import { Backoff } from "../../src/lib/backoff.ts";
import { type EmuPost, type MattermostEmulator, startMattermostEmulator } from "../emulators/mattermost.ts";
import { waitFor } from "../support/wait.ts";

/** The bot's personal access token on the emulated server. */
export const BOT_TOKEN = "pat-bot-9f8e7d6c5b4a39281706";
/** The bot account's password (for the login + password form). */
export const BOT_PASSWORD = "bot-secret-password-42";

/** A started emulator: team st2, the bot, alice and bob, public, private and group channels. */
export function emulator(opts: { maxPostSize?: number; port?: number } = {}): MattermostEmulator {
  return startMattermostEmulator({
    team: { name: "st2" },
    ...opts,
    users: [
      { username: "st2bot", token: BOT_TOKEN, password: BOT_PASSWORD, is_bot: true },
      { username: "alice", password: "alice-pw", first_name: "Alice", last_name: "Liddell", email: "alice@example.com" },
      { username: "bob" },
    ],
    channels: [
      { name: "town-square", display_name: "Town Square", members: ["st2bot", "alice", "bob"] },
      { name: "ops", type: "P", members: ["st2bot", "alice"] },
      { name: "secret", type: "P", members: ["alice"] },
      { name: "off-topic", members: ["alice"] },
      { name: "gm0alice0bob0st2bot", display_name: "alice, bob, st2bot", type: "G", members: ["st2bot", "alice", "bob"] },
    ],
  });
}

/** How the backend logs in: a token, a login and password, or nothing (a missing setting). */
export type Auth = { token: string } | { login: string; password: string } | Record<string, never>;

/** A Mattermost backend against `emu` with a fast backoff. */
export function backendFor(emu: MattermostEmulator, auth: Auth = { token: BOT_TOKEN }, deps: MattermostDeps = {}, team: string | null = "st2"): ChatBackend {
  const lines = ["[mattermost]", `url = "${emu.url}"`, ...Object.entries(auth).map(([k, v]) => `${k} = "${v}"`)];
  if (team) lines.push(`team = "${team}"`);
  const config = parseConfig(lines.join("\n"), "test.toml", {}, BACKEND_SECTIONS);
  return createMattermostBackend(config, { backoff: new Backoff({ initialMs: 30, maxMs: 300 }), ...deps });
}

/** Waits until `b` reports connected. */
export const connected = (b: ChatBackend) => waitFor("connected", () => b.status().state === "connected");
/** The rejection of `p` (throws if it resolves). */
export const failure = (p: Promise<unknown>) => p.then(() => { throw new Error("expected a failure"); }, (e: unknown) => e);
/** The text of a post's attachments, one per line. */
export const attachmentText = (p: EmuPost) => ((p.props.attachments as { text?: string }[] | undefined) ?? []).map((a) => a.text ?? "").join("\n");
