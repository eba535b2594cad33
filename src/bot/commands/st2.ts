/**
 * The StackStorm commands: `!st2 <command>` runs an action alias, `!st2help` lists them.
 * Matching is local (the alias cache); execution goes through POST /aliasexecution as the
 * caller's StackStorm identity.
 */
import type { Config } from "../../config/schema.ts";
import type { AliasIndex, Incomplete } from "../../st2/aliases/index.ts";
import type { ActionAlias } from "../../st2/aliases/types.ts";
import type { St2Client } from "../../st2/client.ts";
import type { AliasExecution, Execution } from "../../st2/schemas.ts";
import { logServerFault, St2ApiError } from "../../st2/http.ts";
import { CommandError, ConfigError } from "../../lib/errors.ts";
import type { Command, Context } from "../types.ts";
import { note, traceMatch } from "../audit.ts";
import { needsTwoFactor, TWOFACTOR_MESSAGE, type TwoFactor } from "../twofactor.ts";
import { pluginPrefix } from "../names.ts";

export interface St2CommandDeps {
  config: Config;
  /**
   * The current alias index (enabled aliases) and the disabled ones, for a clear error. Read
   * `disabled` and `refused` only when needed: they may be computed on access.
   */
  aliases(): { index: AliasIndex; disabled: AliasIndex; loaded: boolean; refused?: boolean };
  /**
   * The StackStorm client acting for this chat user (`personal` under client-side auth), or
   * the promise of it; throws (or rejects with) CommandError when they must log in first.
   */
  clientFor(ctx: Context): As | Promise<As>;
  /** Called when StackStorm refused a user's own credential: forget it, return what to tell them. */
  expired(ctx: Context): Promise<string>;
  /**
   * ACL check for one alias; replies with the denial itself and returns false when refused.
   * A plain `true` (no turn waited) when it can tell at once.
   */
  authorizeAlias(ctx: Context, ref: string): boolean | Promise<boolean>;
  /** Whether the help list shows this alias to this user (hide_restricted_commands). */
  aliasVisible(ctx: Context, ref: string, display: string): boolean;
  /** Held two-factor confirmations; without it `extra.security.twofactor` is ignored. */
  twofactor?: TwoFactor;
  /**
   * Whether `text` runs an alias of a pack this bot does not serve (`stackstorm.packs`): the
   * bot serving that pack answers it, so this one stays silent.
   */
  servedElsewhere?(text: string): boolean;
  /** After the ack: follows the execution's output live when the alias (or the config) asks for it. */
  followLive?(ctx: Context, as: As, alias: ActionAlias, execution: Execution): Promise<void>;
}

const DEFAULT_ACK = "I'll take it from here! Your execution ID for reference is {id}";

/** `st2` (or the plugin prefix): match the text against the aliases and run it. */
export function st2RunCommand(deps: St2CommandDeps): Command {
  const prefix = deps.config.stackstorm.plugin_prefix;
  return {
    plugin: "St2",
    name: pluginPrefix(deps.config),
    help: "Run a StackStorm action alias",
    usage: `${prefix ? prefix + " " : ""}<command>`,
    // Not an async wrapper around `runAlias`: one promise and frame less per command.
    run: (ctx) => {
      const text = ctx.command?.args ?? "";
      if (!text) return Promise.reject(new CommandError(`Tell me what to run, e.g. ${deps.config.bot.prefix}${prefix ? prefix + " " : ""}<command>. ${helpHint(deps.config)}`));
      return runAlias(ctx, text, deps);
    },
  };
}

/**
 * Why there are no commands yet, in words a chat user can act on: a refused credential does
 * not fix itself (an administrator must), a StackStorm that is down or slow usually does.
 */
function notLoaded(refused: boolean | undefined): string {
  if (refused) {
    return "StackStorm refused st2bot's own credential, so I cannot load its commands. This will not fix itself: " +
      "an administrator must fix st2bot's StackStorm credential (`st2bot doctor` shows what is wrong).";
  }
  return "I could not load the action aliases from StackStorm yet; I will keep trying. Please try again in a moment.";
}

function helpHint(config: Config): string {
  return `Type ${config.bot.prefix}${pluginPrefix(config)}help to see what is available.`;
}

function typedForm(config: Config, display: string): string {
  const prefix = config.stackstorm.plugin_prefix;
  return `${config.bot.prefix}${prefix ? prefix + " " : ""}${display}`;
}

async function runAlias(ctx: Context, text: string, deps: St2CommandDeps): Promise<void> {
  const aliases = deps.aliases();
  const { index, loaded } = aliases;
  if (!loaded) throw new CommandError(notLoaded(aliases.refused));
  const outcome = index.match(text);
  traceMatch(text, outcome);
  switch (outcome.kind) {
    case "too-long":
      throw new CommandError(`${outcome.message} Shorten it, or pass long values as key=value pairs at the end.`);
    case "none": {
      if (deps.servedElsewhere?.(text)) return;
      const off = aliases.disabled.match(text);
      if (off.kind === "match") throw new CommandError(`The action alias "${off.match.alias.ref}" is disabled in StackStorm.`);
      const incomplete = outcome.incomplete;
      if (incomplete.length > 0) throw new CommandError(incompleteReply(deps.config, text, incomplete));
      const close = outcome.suggestions.map((s) => `  ${typedForm(deps.config, s)}`).join("\n");
      throw new CommandError(
        `Command "${text}" not found.${close ? `\nDid you mean:\n${close}` : ""}\n${helpHint(deps.config)}`,
      );
    }
    case "ambiguous": {
      const list = outcome.candidates.map((c) => `  ${typedForm(deps.config, c.display)}  (${c.alias.ref})`).join("\n");
      throw new CommandError(`"${text}" matches more than one command; please be more specific:\n${list}`);
    }
    case "match":
      await runMatched(ctx, deps, outcome.match.alias, outcome.match.representation, [text]);
      return;
    case "multiple":
      await runMatched(ctx, deps, outcome.alias, outcome.representation, outcome.hits.map((hit) => hit.command));
      return;
  }
}

/** `"deploy" needs more: …` naming each alias the text started and the parameters it lacks. */
function incompleteReply(config: Config, text: string, incomplete: Incomplete[]): string {
  const names = (missing: string[]) => missing.map((m) => `{{${m}}}`).join(", ");
  const lines = incomplete.slice(0, 3).map((i) => `  ${typedForm(config, i.display)}  (${i.alias.ref}): missing ${names(i.missing)}`);
  return `"${text}" is missing a required parameter:\n${lines.join("\n")}\n${helpHint(config)}`;
}

/** The client a command acts with, and whether it is the chat user's own (client-side auth). */
export type As = { client: St2Client; personal: boolean };

/**
 * Runs a matched alias's commands (one; several for match_multiple, in order) once the ACL
 * allowed it, as the caller's client; for an alias that needs two-factor confirmation, starts
 * the 2FA action instead and holds the run (`confirm`). The common case goes straight on: no
 * turn waited for a verdict or a client already known.
 */
async function runMatched(ctx: Context, deps: St2CommandDeps, alias: ActionAlias, representation: string, commands: readonly string[]): Promise<void> {
  const allowed = deps.authorizeAlias(ctx, alias.ref);
  if (allowed !== true && !(await allowed)) return;
  const found = deps.clientFor(ctx);
  const as = found instanceof Promise ? await found : found;
  if (needsConfirmation(ctx, deps, alias)) return confirm(ctx, deps, alias, as, (again) => executeAll(ctx, again, deps, alias, representation, commands));
  await executeAll(ctx, as, deps, alias, representation, commands);
}

async function executeAll(ctx: Context, as: As, deps: St2CommandDeps, alias: ActionAlias, format: string, commands: readonly string[]): Promise<void> {
  for (const command of commands) await execute(ctx, as, deps, alias, format, command);
}

/** Whether running `alias` for this message waits for a two-factor confirmation first. */
function needsConfirmation(ctx: Context, deps: St2CommandDeps, alias: ActionAlias): boolean {
  return Boolean(deps.twofactor && deps.config.stackstorm.twofactor_action && needsTwoFactor(deps.config, alias) && !deps.twofactor.isConfirmed(ctx.msg));
}

/**
 * Starts the 2FA action (as the caller, with hubot's parameters `uuid`, `user`, `channel`,
 * `hint`) and holds `run` until the confirmation arrives. The held run asks for the caller's
 * client again, so a login ended in the meantime is honoured.
 */
async function confirm(ctx: Context, deps: St2CommandDeps, alias: ActionAlias, as: As, run: (as: As) => Promise<void>): Promise<void> {
  const action = deps.config.stackstorm.twofactor_action!;
  const { msg, chat } = ctx;
  const twofactor = deps.twofactor!;
  // Held before the 2FA action starts, so even an instant confirmation finds it.
  const uuid = twofactor.hold({
    alias: alias.ref,
    user: msg.from.st2User,
    run: async () => run(await deps.clientFor(ctx)),
    reply: (text) => ctx.reply(text),
    message: msg,
  });
  const parameters: Record<string, unknown> = { uuid, user: msg.from.st2User, channel: chat.sourceChannel() };
  if (alias.description) parameters.hint = alias.description;
  try {
    // Shared (cluster mode) before the 2FA action starts: the confirmation may reach another instance.
    await twofactor.persisted(uuid);
    await callStackStorm(ctx, as, deps, () => as.client.createExecution({ action, parameters }));
  } catch (err) {
    twofactor.release(uuid);
    throw err;
  }
  note(ctx, { alias: alias.ref, outcome: "waiting for two-factor confirmation" });
  await ctx.reply(TWOFACTOR_MESSAGE);
}

async function execute(ctx: Context, as: As, deps: St2CommandDeps, alias: ActionAlias, format: string, command: string): Promise<void> {
  const { msg, chat } = ctx;
  const source_context: Record<string, unknown> = { backend: chat.name, user_id: msg.from.id, user: msg.from.st2User };
  if (msg.room) {
    source_context.room = msg.room.id;
    source_context.room_name = msg.room.name;
  }
  if (msg.thread) source_context.thread = msg.thread;
  note(ctx, { alias: alias.ref });
  let result: AliasExecution;
  try {
    result = await as.client.executeAlias({
      name: alias.name,
      format,
      command,
      user: msg.from.st2User,
      source_channel: chat.sourceChannel(),
      source_context,
      notification_route: deps.config.stackstorm.route_key,
    });
  } catch (err) {
    return stackStormFailure(ctx, as, deps, err);
  }
  const id = result.execution.id;
  // Under client-side auth the execution names the StackStorm user it ran as.
  const ranAs = as.personal ? result.execution.context?.user : undefined;
  note(ctx, { execution: ctx.audit?.execution ? `${ctx.audit.execution}, ${id}` : id, ...(typeof ranAs === "string" ? { st2User: ranAs } : {}) });
  const ack = alias.ack ?? {};
  if (ack.enabled !== false) {
    let text = result.message || DEFAULT_ACK.replace("{id}", id);
    const url = result.execution.web_url ?? webUrl(deps.config, id);
    if (ack.append_url !== false && url) text += ` (details available at ${url})`;
    await ctx.reply(text, result.extra ?? undefined);
  }
  await deps.followLive?.(ctx, as, alias, result.execution);
}

function webUrl(config: Config, id: string): string | undefined {
  const base = config.stackstorm.webui_url;
  return base ? `${base.replace(/\/+$/, "")}/#/history/${id}/general` : undefined;
}

/**
 * Turns StackStorm failures into plain language, keeping StackStorm's own faultstring. Anything
 * that is not a StackStorm answer (a bug, a database error) is rethrown untouched, so the router
 * logs it with an error id instead of blaming StackStorm.
 */
export async function callStackStorm<T>(ctx: Context, as: As, deps: Pick<St2CommandDeps, "expired">, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    return stackStormFailure(ctx, as, deps, err);
  }
}

/** Rejects with what `callStackStorm` throws for `err`: a CommandError in plain language, or `err` itself. */
async function stackStormFailure(ctx: Context, as: As, deps: Pick<St2CommandDeps, "expired">, err: unknown): Promise<never> {
  if (err instanceof ConfigError) throw new CommandError("st2bot has no working StackStorm credential configured; an administrator needs to set one (see `st2bot doctor`).");
  if (!(err instanceof St2ApiError)) throw err;
  const { status, faultstring: fault } = err;
  if (status === 401 && as.personal) throw new CommandError(await deps.expired(ctx));
  if (status === 0) {
    throw new CommandError("StackStorm is unreachable right now; I will keep trying to reconnect. Please try again shortly.");
  }
  const why = fault ? `: ${fault}` : "";
  if (status === 401) throw new CommandError(`StackStorm did not accept my credentials${why}. An administrator needs to check st2bot's StackStorm credentials.`);
  if (status === 403) throw new CommandError(`StackStorm refused: you are not allowed to do that${why}`);
  if (status === 404) throw new CommandError(`StackStorm could not find that${why}`);
  if (status >= 500) {
    const id = logServerFault(err, { user: ctx.msg.from.aclId, command: ctx.command?.typed });
    throw new CommandError(`StackStorm failed to run that (error ${status}); an administrator can find the details in st2bot's log under error id ${id}.`);
  }
  throw new CommandError(`StackStorm rejected the command${why}`);
}

interface HelpArgs {
  pack?: string;
  filter?: string;
  limit: number;
  offset: number;
}

/** Parses `--pack P --filter F --limit N --offset N` (a bare word is a filter). */
export function parseHelpArgs(args: string): HelpArgs {
  const out: HelpArgs = { limit: 50, offset: 0 };
  const words = args.match(/"[^"]*"|'[^']*'|\S+/g) ?? [];
  const unquote = (s: string | undefined) => s?.replace(/^(["'])(.*)\1$/, "$2");
  const loose: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const [flag, inline] = w.startsWith("--") ? w.split("=", 2) : [undefined, undefined];
    const value = () => unquote(inline ?? words[++i]);
    if (flag === "--pack") out.pack = value();
    else if (flag === "--filter") out.filter = value();
    else if (flag === "--limit") out.limit = wholeNumber(value(), "--limit", 1);
    else if (flag === "--offset") out.offset = wholeNumber(value(), "--offset", 0);
    else if (flag) throw new CommandError(`Unknown option ${flag}. Use --pack, --filter, --limit or --offset.`);
    else loose.push(unquote(w)!);
  }
  if (loose.length && !out.filter) out.filter = loose.join(" ");
  return out;
}

function wholeNumber(value: string | undefined, flag: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new CommandError(`${flag} takes a whole number${min ? " from 1" : ""}.`);
  return n;
}

/** `st2help`: the aliases this user may run, grouped by pack, paged to the message size. */
export function st2HelpCommand(deps: St2CommandDeps): Command {
  const name = `${pluginPrefix(deps.config)}help`;
  return {
    plugin: "St2",
    name,
    help: "List the StackStorm commands you can run",
    usage: `${name} [--pack P] [--filter F] [--limit N] [--offset N]`,
    run: async (ctx) => {
      const args = parseHelpArgs(ctx.command?.args ?? "");
      const { index, loaded, refused } = deps.aliases();
      if (!loaded) throw new CommandError(notLoaded(refused));
      const all = sortHelp(index.help({ pack: args.pack, filter: args.filter }).helpstrings);
      const visible = all.filter((h) => {
        const ref = findRef(index, h.pack, h.display);
        return !ref || deps.aliasVisible(ctx, ref, h.display);
      });
      await ctx.reply(renderHelp(deps.config, visible, args, ctx.chat.maxMessageLength, name));
    },
  };
}

/**
 * Packs in order, each once, aliases in order within it (StackStorm lists them in its own
 * order, which repeated a pack's heading wherever its aliases were interleaved).
 */
export function sortHelp<T extends { pack: string; display: string }>(entries: readonly T[]): T[] {
  const key = (s: string) => s.toLowerCase();
  const cmp = (a: string, b: string) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a < b ? -1 : a > b ? 1 : 0);
  return entries.slice().sort((a, b) => cmp(a.pack, b.pack) || cmp(a.display, b.display));
}

function findRef(index: AliasIndex, pack: string, display: string): string | undefined {
  for (const a of index.aliases) {
    if (a.pack !== pack) continue;
    for (const f of a.formats) {
      const d = typeof f === "string" ? f : f.display ?? f.representation?.[0];
      if (d === display || (typeof f !== "string" && f.representation?.includes(display))) return a.ref;
    }
  }
  return undefined;
}

/** Renders one page of help; pages end early rather than exceed the backend's message size. */
export function renderHelp(
  config: Config,
  entries: { pack: string; display: string; description: string }[],
  args: HelpArgs,
  maxLength: number,
  commandName: string,
): string {
  if (entries.length === 0) {
    const what = [args.pack && `pack "${args.pack}"`, args.filter && `filter "${args.filter}"`].filter(Boolean).join(" and ");
    return what ? `No StackStorm commands found for ${what}.` : "No StackStorm commands are available to you.";
  }
  if (args.offset >= entries.length) return `There are only ${entries.length} commands; try ${config.bot.prefix}${commandName} without --offset.`;
  const page = entries.slice(args.offset, args.offset + args.limit);
  const budget = maxLength - 200;
  const lines: string[] = [];
  let shown = 0;
  let size = 0;
  let pack: string | undefined;
  for (const h of page) {
    const block: string[] = [];
    if (h.pack !== pack) block.push(`${h.pack}:`);
    block.push(`  ${typedForm(config, h.display)}${h.description ? ` - ${h.description}` : ""}`);
    const add = block.join("\n").length + 1;
    if (shown > 0 && size + add > budget) break;
    lines.push(...block);
    pack = h.pack;
    size += add;
    shown++;
  }
  const first = args.offset + 1;
  const last = args.offset + shown;
  const header = `StackStorm commands ${first}-${last} of ${entries.length}:`;
  const rest = entries.length - last;
  const more = [args.pack && `--pack ${args.pack}`, args.filter && `--filter "${args.filter}"`, args.limit !== 50 && `--limit ${args.limit}`]
    .filter(Boolean)
    .join(" ");
  const footer = rest > 0 ? `\n${rest} more: ${config.bot.prefix}${commandName}${more ? " " + more : ""} --offset ${last}` : "";
  return `${header}\n${lines.join("\n")}${footer}`;
}
