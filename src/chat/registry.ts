/**
 * The chat backends st2bot can run. Adding a backend is its folder in src/chat (with a light
 * `settings.ts` exporting its `BackendInfo`) plus one line here; config loading, doctor, `init`,
 * `!about` and the architecture test read what they need from this list. `create` imports the
 * backend's module only when it is chosen, so a Slack deployment never loads the XMPP library.
 */
import type { Config } from "../config/schema.ts";
import { ConfigError } from "../lib/errors.ts";
import type { BackendInfo, DoctorCheck } from "./backend.ts";
import type { ChatBackend } from "./types.ts";
import { discord } from "./discord/settings.ts";
import { irc } from "./irc/settings.ts";
import { mattermost } from "./mattermost/settings.ts";
import { rocketchat } from "./rocketchat/settings.ts";
import { matrix } from "./matrix/settings.ts";
import { slack } from "./slack/settings.ts";
import { text } from "./text/settings.ts";
import { xmpp } from "./xmpp/settings.ts";

/** A backend's declaration plus its factory. */
export interface BackendEntry extends BackendInfo<any> {
  /** Imports the backend's module (and so its SDK) and builds it from `config`. */
  create(config: Config): Promise<ChatBackend>;
  /**
   * Optional live checks for `st2bot doctor` (can it connect, can it join its rooms), imported
   * on demand like `create`; run only when `missing` lists nothing. Never throws for a finding.
   */
  probe?(config: Config): Promise<DoctorCheck[]>;
}

/** Every backend, in the order people are shown them. One line each. */
export const BACKENDS: readonly BackendEntry[] = [
  { ...slack, create: async (c) => (await import("./slack/index.ts")).createSlackBackend(c) },
  { ...mattermost, create: async (c) => (await import("./mattermost/index.ts")).createMattermostBackend(c) },
  { ...xmpp, create: async (c) => (await import("./xmpp/index.ts")).createXmppBackend(c) },
  { ...rocketchat, create: async (c) => (await import("./rocketchat/index.ts")).createRocketChatBackend(c), probe: async (c) => (await import("./rocketchat/probe.ts")).probeRocketChat(c) },
  { ...matrix, create: async (c) => (await import("./matrix/index.ts")).createMatrixBackend(c), probe: async (c) => (await import("./matrix/probe.ts")).probeMatrix(c) },
  { ...discord, create: async (c) => (await import("./discord/index.ts")).createDiscordBackend(c), probe: async (c) => (await import("./discord/probe.ts")).probeDiscord(c) },
  { ...irc, create: async (c) => (await import("./irc/index.ts")).createIrcBackend(c), probe: async (c) => (await import("./irc/probe.ts")).probeIrc(c) },
  { ...text, create: async (c) => (await import("./text.ts")).createTextBackend(c) },
];

/** The backend called `name`, or undefined. */
export const backendNamed = (name: string): BackendEntry | undefined => BACKENDS.find((b) => b.name === name);

/** Each backend's `[<name>]` table schema, for config loading (`loadConfig(file, env, BACKEND_SECTIONS)`). */
export const BACKEND_SECTIONS: Readonly<Record<string, BackendEntry["schema"]>> = Object.fromEntries(BACKENDS.map((b) => [b.name, b.schema]));

/** Builds the backend `[bot] backend` names; throws ConfigError for a name not in BACKENDS. */
export async function createBackend(config: Config): Promise<ChatBackend> {
  const entry = backendNamed(config.bot.backend);
  if (!entry) throw new ConfigError(`bot.backend: unknown chat backend "${config.bot.backend}"; choose one of ${BACKENDS.map((b) => b.name).join(", ")}`);
  return entry.create(config);
}

/** "Slack, Mattermost, XMPP and the terminal": the services st2bot speaks, for `!about`. */
export function backendLabels(): string {
  const labels = BACKENDS.map((b) => b.label);
  return labels.length > 1 ? `${labels.slice(0, -1).join(", ")} and ${labels.at(-1)}` : (labels[0] ?? "");
}

/** The `st2bot init` sections of every backend: a comment with its description, the table, its lines. */
export function backendTemplates(): Array<{ name: string; text: string }> {
  return BACKENDS.map((b) => ({ name: b.name, text: `# ${b.description}\n[${b.name}]\n${b.template}` }));
}
