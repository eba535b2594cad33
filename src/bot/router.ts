/**
 * The router: turns an incoming chat message into a command invocation. It strips the bot
 * prefix or the bot's name, finds the command, runs the middleware (ACL) and the command, and
 * turns failures into plain-language replies — never a stack trace.
 */
import type { ChatBackend, Message, MessageHandler, Outgoing } from "../chat/types.ts";
import { commandGarbage, type CommandGarbage } from "../lib/load.ts";
import { logger } from "../lib/log.ts";
import { collapseSpace, indexOfSpace, PY_SPACE_CLASS, pyStrip } from "../st2/aliases/words.ts";
import { note, writeAudit } from "./audit.ts";
import { reportFailure } from "./report.ts";
import type { Audit, ChatInfo, Command, Context, Middleware, ParsedCommand } from "./types.ts";

const log = logger("bot.router");

/** What the router needs: the prefix and names it answers to, the commands, and where replies go. */
export interface RouterOptions {
  /** Errbot's BOT_PREFIX, default `!`. */
  prefix: string;
  /** The bot's name, accepted as `@st2bot ...` or `st2bot: ...` in place of the prefix. */
  botName: string;
  /** The commands by their registered names (matched case-insensitively). */
  commands: Command[];
  /**
   * The command that takes any text no other command claims: always when the bot is addressed
   * by name (`@st2bot deploy web`), and after the prefix too when `fallbackAfterPrefix` (an
   * empty plugin_prefix: `!deploy web`).
   */
  fallback?: Command;
  fallbackAfterPrefix?: boolean;
  /** Runs before every command, in order (the ACL). */
  middleware: Middleware[];
  isAdmin(msg: Message): boolean;
  /**
   * Answers a message durably where it was asked (the outbox), `out.secret` set for
   * `Context.replySecret`.
   */
  reply(msg: Message, out: Outgoing): Promise<void>;
  /** Answers a command nobody claims (`Command "x" not found. Did you mean ...`). */
  unknown(ctx: Context, typed: string): Promise<void>;
  /** Told when a command begins and ends, to collect its garbage between commands (default: the process's). */
  garbage?: CommandGarbage;
}

/**
 * The longest text addressed to the bot that is read at all (the alias matcher has its own,
 * smaller bounds): longer messages get a reply saying so and nothing else is done.
 */
export const MAX_ADDRESSED_LENGTH = 8192;

/** Python whitespace: the alias matcher's idea of it, so the ACL and the matcher agree. */
const SEPARATOR = new RegExp(`^[:,]?[${PY_SPACE_CLASS}]+`);

/** How a message reached the bot: the text after the prefix or the bot's name. */
export interface Addressed {
  text: string;
  /** Addressed by name or mention rather than by the prefix. */
  byName: boolean;
}

/**
 * Finds the text after the prefix or the bot's name; undefined when the message is not for the
 * bot. `names` may be a function: it is then asked only when the text does not start with the
 * prefix (the usual `!st2 ...` needs no name list).
 */
export function addressed(msg: Message, prefix: string, names: string[] | (() => string[])): Addressed | undefined {
  const text = pyStrip(msg.text);
  const prefixed = afterPrefix(text, prefix);
  if (prefixed !== undefined) return { text: prefixed, byName: false };
  if (msg.mentioned) return { text, byName: true };
  const lower = text.toLowerCase();
  for (const name of typeof names === "function" ? names() : names) {
    const n = name.toLowerCase();
    for (const form of [`@${n}`, n]) {
      if (!lower.startsWith(form)) continue;
      const rest = text.slice(form.length);
      const sep = SEPARATOR.exec(rest);
      if (sep) {
        const after = pyStrip(rest.slice(sep[0].length));
        return { text: afterPrefix(after, prefix) ?? after, byName: true };
      }
    }
  }
  return undefined;
}

/** The text after `prefix` (stripped), or undefined when `t` does not start with it. */
function afterPrefix(t: string, prefix: string): string | undefined {
  return prefix && t.startsWith(prefix) ? pyStrip(t.slice(prefix.length)) : undefined;
}

/**
 * Splits `st2help --pack x` into the command and its arguments, matching registered names.
 * Words are split on Python's whitespace, as the alias matcher does.
 */
export function parseCommand(typed: string, commands: ReadonlyMap<string, Command>): { parsed: ParsedCommand; def: Command } | undefined {
  const text = pyStrip(typed);
  const end = indexOfSpace(text);
  const name = (end < 0 ? text : text.slice(0, end)).toLowerCase();
  const def = name ? commands.get(name) : undefined;
  if (!def) return undefined;
  const args = end < 0 ? "" : pyStrip(text.slice(end));
  return subcommandOf(def, name, args) ?? { parsed: { name, args, typed: canonicalTyped(name, args) }, def };
}

/** `st2 cancel abc` → the `cancel` subcommand of `st2` with args `abc`; undefined when none is named. */
function subcommandOf(def: Command, name: string, args: string): { parsed: ParsedCommand; def: Command } | undefined {
  if (!def.subcommands?.length || !args) return undefined;
  const end = indexOfSpace(args);
  const word = (end < 0 ? args : args.slice(0, end)).toLowerCase();
  const sub = subcommandsByName(def.subcommands).get(word);
  if (!sub) return undefined;
  const rest = end < 0 ? "" : pyStrip(args.slice(end));
  return { parsed: { name: sub.name, args: rest, typed: canonicalTyped(`${name} ${word}`, rest) }, def: sub };
}

/** Subcommand lists by their lower-cased names, built once per list (not per message). */
const subcommandIndex = new WeakMap<readonly Command[], Map<string, Command>>();

function subcommandsByName(list: readonly Command[]): Map<string, Command> {
  let byName = subcommandIndex.get(list);
  if (!byName) {
    byName = new Map();
    // The first of two subcommands with one name wins, as a `find` over the list would.
    for (const s of list) if (!byName.has(s.name.toLowerCase())) byName.set(s.name.toLowerCase(), s);
    subcommandIndex.set(list, byName);
  }
  return byName;
}

/**
 * The one text access rules keyed on typed text are checked against, however the bot was
 * addressed: `<command> <args>` (for alias commands `<plugin_prefix> <alias command>`, just
 * the alias command when plugin_prefix is empty), Python whitespace runs made one space.
 */
export function canonicalTyped(lead: string, args: string): string {
  return collapseSpace(`${lead} ${args}`);
}

/**
 * The handler a backend feeds messages to. Messages not addressed to the bot are ignored;
 * everything else gets exactly one outcome: the command runs, the ACL refuses, or a reply says
 * what went wrong. It never rejects: failures become replies (CommandError as written, anything
 * else a generic text with an error id that is also in the log).
 *
 * Every command line takes this one path, so it is kept short: one `try` instead of a failure
 * report built per command, and, when every middleware can decide at once (`Middleware.now`:
 * the ACL), its verdict read in place instead of through the `(ctx, next)` chain.
 */
export function createRouter(backend: ChatBackend, opts: RouterOptions): MessageHandler {
  const byName = new Map(opts.commands.map((c) => [c.name.toLowerCase(), c]));
  const garbage = opts.garbage ?? commandGarbage;
  const middleware = opts.middleware;
  const direct = middleware.every((mw) => mw.now !== undefined);
  // Asked per message (see `addressed`): a backend learns its own name (Slack, Mattermost) only once connected.
  const names = () => [opts.botName, ...backend.botNames()];
  return async (msg: Message) => {
    const to = addressed(msg, opts.prefix, names);
    if (!to || to.text === "") return;
    const typed = to.text;
    const ctx = new MessageContext(msg, backend, opts);
    if (typed.length > MAX_ADDRESSED_LENGTH) {
      try {
        await ctx.reply(`That message is ${typed.length.toLocaleString("en")} characters long; st2bot reads commands of at most ${MAX_ADDRESSED_LENGTH.toLocaleString("en")}.`);
      } catch (err) {
        await failed(ctx, err);
      }
      return;
    }
    const fallback = opts.fallback && (to.byName || opts.fallbackAfterPrefix) ? opts.fallback : undefined;
    // The fallback runs aliases: its rule text starts with the plugin prefix, which an empty
    // plugin_prefix leaves out (`!deploy web` and `@st2bot deploy web` alike).
    const found = parseCommand(typed, byName) ??
      (fallback ? { parsed: { name: fallback.name, args: typed, typed: canonicalTyped(opts.fallbackAfterPrefix ? "" : fallback.name, typed) }, def: fallback } : undefined);
    if (!found) {
      note(ctx, { outcome: "unknown command" });
      try {
        await opts.unknown(ctx, typed);
      } catch (err) {
        await failed(ctx, err);
      }
      writeAudit(ctx, typed);
      return;
    }
    const def = found.def;
    ctx.command = found.parsed;
    ctx.commandDef = def;
    garbage.begin();
    try {
      const pass = direct ? passNow(ctx, middleware) : undefined;
      if (pass === true) await def.run(ctx);
      else if (pass) await pass;
      else await run(ctx, middleware, () => def.run(ctx));
    } catch (err) {
      await failed(ctx, err);
    } finally {
      // The command is answered: a quiet moment for its garbage (lib/load.ts).
      garbage.end();
    }
    writeAudit(ctx, typed, def.secretArgs);
  };
}

/** Every step's `now` in order: true when all let the command go on, else the first refusal's promise. */
function passNow(ctx: Context, middleware: Middleware[]): true | Promise<void> {
  for (const mw of middleware) {
    const pass = mw.now!(ctx);
    if (pass !== true) return pass;
  }
  return true;
}

/**
 * One message's context. Its replies are methods shared by every context (not closures made
 * per message); a command copies a context with `Object.create` or by naming the fields, never
 * with a spread, which would leave the methods behind.
 */
class MessageContext implements Context {
  command?: ParsedCommand;
  commandDef?: Command;
  audit?: Audit;
  readonly chat: ChatInfo;
  private admin: boolean | undefined;

  constructor(
    readonly msg: Message,
    backend: ChatBackend,
    private readonly opts: RouterOptions,
  ) {
    this.chat = new ChatView(backend, msg);
  }

  /** Asked of `RouterOptions.isAdmin` once, when first read (most commands never ask). */
  get isAdmin(): boolean {
    return (this.admin ??= this.opts.isAdmin(this.msg));
  }

  reply(text: string, extra?: Record<string, unknown>): Promise<void> {
    return this.opts.reply(this.msg, { text, extra });
  }

  replySecret(text: string): Promise<void> {
    return this.opts.reply(this.msg, { text, secret: true });
  }
}

/** What a command may read of `backend` for `msg` (see `ChatInfo`); a view, not the backend. */
class ChatView implements ChatInfo {
  readonly name: string;
  readonly maxMessageLength: number;

  constructor(
    private readonly backend: ChatBackend,
    private readonly msg: Message,
  ) {
    this.name = backend.name;
    this.maxMessageLength = backend.maxMessageLength;
  }

  sourceChannel(): string {
    return this.backend.sourceChannel(this.msg);
  }
}

/** What a command may read of `backend` for `msg` (see `ChatInfo`); a view, not the backend. */
export function chatInfo(backend: ChatBackend, msg: Message): ChatInfo {
  return new ChatView(backend, msg);
}

/** Runs the middleware chain (grammY's `(ctx, next)`), then the handler. */
async function run(ctx: Context, middleware: Middleware[], handler: () => Promise<void>): Promise<void> {
  const step = async (i: number): Promise<void> => {
    const mw = middleware[i];
    if (!mw) return handler();
    await mw(ctx, () => step(i + 1));
  };
  await step(0);
}

/** Reports a command's failure to the user (see `reportFailure`) and notes it for the audit line. */
function failed(ctx: Context, err: unknown): Promise<void> {
  return reportFailure(err, {
    reply: (text) => ctx.reply(text),
    log,
    failed: "command failed",
    fields: { command: ctx.command?.name },
    outcome: (o) => {
      if ("errorId" in o) note(ctx, { outcome: `error ${o.errorId}` });
      else if (!ctx.audit?.outcome) note(ctx, { outcome: `refused: ${o.refused}` });
    },
  });
}
