/**
 * The router: turns an incoming chat message into a command invocation. It strips the bot
 * prefix or the bot's name, finds the command, runs the middleware (ACL) and the command, and
 * turns failures into plain-language replies — never a stack trace.
 */
import type { ChatBackend, Message, MessageHandler, Outgoing, Target } from "../chat/types.ts";
import { CommandError } from "../lib/errors.ts";
import { logger } from "../lib/log.ts";
import type { Command, Context, Middleware, ParsedCommand } from "./types.ts";

const log = logger("bot.router");

export interface RouterOptions {
  /** Errbot's BOT_PREFIX, default `!`. */
  prefix: string;
  /** The bot's name, accepted as `@st2bot ...` or `st2bot: ...` in place of the prefix. */
  botName: string;
  commands: Command[];
  /**
   * The command that takes any text no other command claims (`st2` with an empty
   * plugin_prefix: `!deploy web` runs an alias).
   */
  fallback?: Command;
  /** Runs before every command, in order (the ACL). */
  middleware: Middleware[];
  isAdmin(msg: Message): boolean;
  /** Sends a message durably (the outbox). */
  deliver(target: Target, out: Outgoing): Promise<void>;
  /** Answers a command nobody claims (`Command "x" not found. Did you mean ...`). */
  unknown(ctx: Context, typed: string): Promise<void>;
}

/** Finds the text after the prefix or the bot's name; undefined when the message is not for the bot. */
export function addressedText(msg: Message, prefix: string, names: string[]): string | undefined {
  const text = msg.text.trim();
  if (prefix && text.startsWith(prefix)) return text.slice(prefix.length).trim();
  if (msg.mentioned) return text;
  const lower = text.toLowerCase();
  for (const name of names) {
    const n = name.toLowerCase();
    for (const form of [`@${n}`, n]) {
      if (!lower.startsWith(form)) continue;
      const rest = text.slice(form.length);
      const sep = /^[:,]?\s+/.exec(rest);
      if (sep) {
        const after = rest.slice(sep[0].length).trim();
        return prefix && after.startsWith(prefix) ? after.slice(prefix.length).trim() : after;
      }
    }
  }
  return undefined;
}

/** Splits `st2help --pack x` into the command and its arguments, matching registered names. */
export function parseCommand(typed: string, commands: ReadonlyMap<string, Command>): { parsed: ParsedCommand; def: Command } | undefined {
  const match = /^(\S+)\s*([\s\S]*)$/.exec(typed);
  if (!match) return undefined;
  const name = match[1]!.toLowerCase();
  const def = commands.get(name);
  return def ? { parsed: { name, args: match[2]!.trim(), typed }, def } : undefined;
}

export function createRouter(backend: ChatBackend, opts: RouterOptions): MessageHandler {
  const byName = new Map(opts.commands.map((c) => [c.name.toLowerCase(), c]));
  const names = [opts.botName, ...backend.botNames()];

  return async (msg: Message) => {
    const typed = addressedText(msg, opts.prefix, names);
    if (typed === undefined || typed === "") return;
    const ctx = createContext(backend, msg, opts);
    const found = parseCommand(typed, byName) ??
      (opts.fallback ? { parsed: { name: opts.fallback.name, args: typed, typed }, def: opts.fallback } : undefined);
    if (!found) {
      await safely(ctx, () => opts.unknown(ctx, typed));
      return;
    }
    ctx.command = found.parsed;
    ctx.commandDef = found.def;
    await safely(ctx, () => run(ctx, opts.middleware, () => found.def.run(ctx)));
  };
}

function createContext(backend: ChatBackend, msg: Message, opts: RouterOptions): Context {
  const replyTo = backend.replyTarget(msg);
  return {
    msg,
    backend,
    isAdmin: opts.isAdmin(msg),
    reply: (text, extra) => opts.deliver(replyTo, { text, extra }),
    send: (target, out) => opts.deliver(target, out),
  };
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

/** Expected failures go to the user as written; anything else gets a generic reply with an id. */
async function safely(ctx: Context, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof CommandError) {
      await ctx.reply(err.userMessage).catch(() => undefined);
      return;
    }
    const id = crypto.randomUUID().slice(0, 8);
    log.error("command failed", { id, command: ctx.command?.name, error: err instanceof Error ? err.stack ?? err.message : String(err) });
    await ctx.reply(`Sorry, something went wrong running that command (error id ${id}).`).catch(() => undefined);
  }
}
