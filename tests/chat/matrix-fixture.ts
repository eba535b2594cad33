/**
 * The Matrix tests' fixture: the emulated homeserver with its people and rooms, and a backend
 * configured against it with its own data directory.
 */
import { createMatrixBackend, type MatrixDeps } from "../../src/chat/matrix/index.ts";
import type { ChatBackend } from "../../src/chat/types.ts";
import { parseConfig } from "../../src/config/load.ts";
import { BACKEND_SECTIONS } from "../../src/chat/registry.ts";
import { Backoff } from "../../src/lib/backoff.ts";
import { type MatrixEmulator, startMatrixEmulator } from "../emulators/matrix/index.ts";
import type { TempDir } from "../support/tmp.ts";

/** The bot's access token on the emulated homeserver. */
export const BOT_TOKEN = "syt_c3QyYm90_bot0token0for0tests";
/** The bot account's password (for the password login). */
export const BOT_PASSWORD = "bot-secret-password-42";

/** A started homeserver: the bot, alice, bob and a remote mallory; public, private, direct and encrypted rooms. */
export function emulator(): MatrixEmulator {
  return startMatrixEmulator({
    bot: "st2bot",
    users: [
      { name: "st2bot", tokens: [BOT_TOKEN], password: BOT_PASSWORD, displayname: "St2 Bot" },
      { name: "alice", displayname: "Alice Liddell" },
      { name: "bob" },
      { name: "@mallory:evil.test" },
    ],
    rooms: [
      { alias: "#ops:emu.test", members: ["alice", "st2bot"] },
      { members: ["alice", "st2bot"], direct: true },
      { alias: "#lobby:emu.test", members: ["alice"], public: true },
      { alias: "#secret:emu.test", members: ["alice", "st2bot"], encrypted: true },
      { alias: "#private:emu.test", members: ["alice"] },
    ],
  });
}

/**
 * `backendFor(emu, extra, deps, auth)`: a Matrix backend against `emu` with a fast backoff, a
 * data directory from `tmp`, `extra` lines in `[matrix]` and the bot's token unless `auth` says.
 */
export function backendsIn(tmp: TempDir) {
  return (emu: MatrixEmulator, extra = "", deps: MatrixDeps = {}, auth = `access_token = "${BOT_TOKEN}"`): ChatBackend => {
    const dataDir = tmp("matrix");
    const config = parseConfig(`[bot]\ndata_dir = ${JSON.stringify(dataDir)}\n[matrix]\nhomeserver = "${emu.url}"\n${auth}\n${extra}`, "test.toml", {}, BACKEND_SECTIONS);
    return createMatrixBackend(config, { backoff: new Backoff({ initialMs: 30, maxMs: 300 }), ...deps });
  };
}
