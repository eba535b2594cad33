/**
 * The chat backends st2bot can run, by the name used in `[bot] backend`. Adding a backend is
 * one file or folder in src/chat plus one line here. Each is loaded on demand, so a Slack deployment
 * never loads the XMPP library and start-up stays fast.
 */
import type { Config } from "../config/schema.ts";
import { ConfigError } from "../lib/errors.ts";
import type { ChatBackend } from "./types.ts";

type Factory = (config: Config) => ChatBackend | Promise<ChatBackend>;

/** Backend name → a loader of its factory (the module is imported only when chosen). */
export const BACKENDS: Record<string, () => Promise<Factory>> = {
  text: async () => (await import("./text.ts")).createTextBackend,
  slack: async () => (await import("./slack/index.ts")).createSlackBackend,
  mattermost: async () => (await import("./mattermost/index.ts")).createMattermostBackend,
  xmpp: async () => (await import("./xmpp/index.ts")).createXmppBackend,
};

/** Builds the backend `[bot] backend` names; throws ConfigError for a name not in BACKENDS. */
export async function createBackend(config: Config): Promise<ChatBackend> {
  const load = BACKENDS[config.bot.backend];
  if (!load) throw new ConfigError(`bot.backend: unknown chat backend "${config.bot.backend}"; choose one of ${Object.keys(BACKENDS).join(", ")}`);
  return (await load())(config);
}
