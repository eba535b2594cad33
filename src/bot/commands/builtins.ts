/**
 * The built-in commands Errbot users expect (`!help`, `!whoami`, `!about`, `!status`) and the
 * reply to an unknown command, with Errbot's wording where Errbot has one. Live figures come
 * from an injected `StatusSource`; the services named in `!about` come from chat's registry.
 */
import { backendLabels } from "../../chat/registry.ts";
import { redact } from "../../lib/log.ts";
import { closeMatches } from "../suggest.ts";
import type { Command, Context } from "../types.ts";
import type { ClusterState, ComponentState, StatusSource } from "../status.ts";

export interface BuiltinDeps {
  /** The bot prefix (`!`), shown in help lines. */
  prefix: string;
  /** Every registered command, the built-ins included (read on each `!help`). */
  commands(): readonly Command[];
  status: StatusSource;
  /** Given when `hide_restricted_commands` is on: whether to list `cmd` to this sender. */
  listFilter?: (ctx: Context, cmd: Command) => boolean;
  /** Clock for uptime (tests); defaults to Date.now. */
  now?: () => number;
}

/** Errbot's answer to `!help <something unknown>`. */
export const HELP_UNDEFINED = "That command is not defined.";

/** `help`, `about` (plugin `Help`), `status` (`Health`) and `whoami` (`Utils`), as in Errbot. */
export function builtinCommands(deps: BuiltinDeps): Command[] {
  return [helpCommand(deps), aboutCommand(deps), statusCommand(deps), whoamiCommand()];
}

function helpCommand(deps: BuiltinDeps): Command {
  return {
    plugin: "Help",
    name: "help",
    usage: "help [plugin or command]",
    help: "Returns a help string listing available options",
    run: async (ctx) => ctx.reply(helpText(ctx, deps, ctx.command?.args ?? "")),
  };
}

/** The help text: all commands grouped by plugin, one plugin, or one command. */
export function helpText(ctx: Context, deps: BuiltinDeps, args: string): string {
  const all = deps.commands();
  const listed = all.filter((c) => !c.hidden && (!deps.listFilter || deps.listFilter(ctx, c)));
  const query = args.trim().toLowerCase();
  const line = (c: Command) => `- **${deps.prefix}${c.usage ?? c.name}** - ${c.help}\n`;
  const section = (plugin: string, cmds: Command[]) =>
    `\n**${plugin}**\n\n` + [...cmds].sort((a, b) => a.name.localeCompare(b.name)).map(line).join("");

  if (!query) {
    const plugins = [...new Set(listed.map((c) => c.plugin))].sort((a, b) => a.localeCompare(b));
    return "### All commands\n" + plugins.map((p) => section(p, listed.filter((c) => c.plugin === p))).join("");
  }
  const plugin = [...new Set(all.map((c) => c.plugin))].find((p) => p.toLowerCase() === query);
  if (plugin) return section(plugin, listed.filter((c) => c.plugin === plugin));
  // Errbot accepts `help log tail` for `log_tail`; names here may hold either.
  const cmd = all.find((c) => c.name === query || c.name.replace(/_/g, " ") === query);
  return cmd ? line(cmd).trimEnd() : HELP_UNDEFINED;
}

function aboutCommand(deps: BuiltinDeps): Command {
  return {
    plugin: "Help",
    name: "about",
    help: "Return information about this st2bot instance and version",
    run: async (ctx) =>
      ctx.reply(
        `st2bot version ${deps.status.version}\n\n` +
          `StackStorm ChatOps for ${backendLabels()}, compatible with ` +
          `err-stackstorm and hubot-stackstorm. Type ${deps.prefix}help for the commands.`,
      ),
  };
}

function statusCommand(deps: BuiltinDeps): Command {
  return {
    plugin: "Health",
    name: "status",
    help: "Show the bot's version, uptime and the state of chat, StackStorm, the stream and the outbox",
    run: async (ctx) => ctx.reply(statusText(deps, ctx.chat.name)),
  };
}

/** The `!status` text; starts like Errbot's (`Yes I am alive`). */
export function statusText(deps: BuiltinDeps, backendName: string): string {
  const s = deps.status;
  const now = (deps.now ?? Date.now)();
  const chat = s.chat();
  const outbox = s.outbox();
  return [
    "Yes I am alive.",
    `- version: ${s.version}`,
    `- up for ${duration(now - s.startedAt)} (since ${new Date(s.startedAt).toISOString()})`,
    `- chat (${backendName}): ${describe({ state: chat.state, detail: chat.detail })} since ${new Date(chat.since).toISOString()}`,
    `- StackStorm: ${describe(s.st2())}`,
    `- action aliases: ${s.aliases()}`,
    `- stream: ${describe(s.stream())}`,
    `- outbox: ${outbox.pending} pending, ${outbox.dead} dead`,
    ...(s.cluster ? [clusterLine(s.cluster())] : []),
  ].join("\n");
}

function clusterLine(c: ClusterState): string {
  const lease = c.role === "leader" ? `, fence ${c.fence}, lease confirmed ${c.leaseAgeMs} ms ago` : c.fence ? `, last fence ${c.fence}` : "";
  const redis = c.redisDown ? `, Redis UNREACHABLE (${c.spooled} announcements spooled)` : "";
  return `- cluster: ${c.instance} is ${c.role}${lease}; ${c.peers ?? "?"} instance(s) seen${redis}`;
}

// Details come from other components' errors; redact() is the last guard before chat.
const describe = (c: ComponentState) => (c.detail ? `${c.state} (${redact(c.detail)})` : c.state);

/** `93784000` → `1d 2h 3m 4s`; leading zero units are left out. */
export function duration(ms: number): string {
  let rest = Math.max(0, Math.floor(ms / 1000));
  const parts: string[] = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 || parts.length > 0) parts.push(`${n}${unit}`);
  }
  parts.push(`${rest}s`);
  return parts.join(" ");
}

function whoamiCommand(): Command {
  return {
    plugin: "Utils",
    name: "whoami",
    help: "Shows who the bot thinks you are, and the aclattr to put in access_controls rules",
    run: async (ctx) => ctx.reply(whoamiText(ctx)),
  };
}

/** Errbot's `!whoami` table, plus `aclattr` (what ACL rules match) and the StackStorm user. */
export function whoamiText(ctx: Context): string {
  const { from, room } = ctx.msg;
  const rows: Array<[string, string | undefined]> = [
    ["person", from.id],
    ["nick", from.nick],
    ["fullname", from.fullName],
    ["client", ctx.chat.name],
    ["email", from.email],
    ["aclattr", from.aclId],
    ["st2 user", from.st2User],
    ["room", room?.name],
    ["room id", room && room.id !== room.name ? room.id : undefined],
  ];
  const table = rows
    .filter((r): r is [string, string] => r[1] !== undefined && r[1] !== "")
    .map(([k, v]) => `| ${k.padEnd(8)} | \`${v}\``);
  return [
    "| key      | value",
    "| -------- | --------",
    ...table,
    "",
    "Use `aclattr` in allowusers/denyusers" + (room ? " and `room` in allowrooms/denyrooms" : "") + " of an access_controls rule.",
  ].join("\n");
}

/**
 * Errbot's reply to an unknown command: `Command "x" not found.` (or `Command "x" / "x y" not
 * found.` when arguments follow), then `Did you mean "!a" or "!b" ?` for close names
 * (difflib's get_close_matches on the command and on the command plus its first argument).
 */
export function unknownCommandReply(typed: string, knownCommandNames: readonly string[], prefix = "!"): string {
  const [cmd = "", ...rest] = typed.trim().split(/\s+/);
  const fullCmd = rest.length > 0 ? `${cmd} ${rest[0]}` : undefined;
  const head = fullCmd ? `Command "${cmd}" / "${fullCmd}" not found.` : `Command "${cmd}" not found.`;
  const names = knownCommandNames.map((n) => n.replace(/_/g, " "));
  const matches = new Set([...closeMatches(cmd, names), ...(fullCmd ? closeMatches(fullCmd, names) : [])]);
  if (matches.size === 0) return head;
  return `${head}\n\nDid you mean "${prefix}${[...matches].join(`" or "${prefix}`)}" ?`;
}
