/**
 * The shapes every command and middleware in src/bot shares: one context per incoming message
 * (grammY/Hono style), so command code never imports a backend.
 */
import type { ChatBackend, Message, Outgoing, Target } from "../chat/types.ts";

/** A parsed command line: `!st2help --pack core` → name `st2help`, args `--pack core`. */
export interface ParsedCommand {
  /** The command's registered name, lower-case (`st2`, `st2help`, `whoami`). */
  name: string;
  /** Everything after the name, trimmed. */
  args: string;
  /**
   * The canonical command text text-keyed ACL rules are checked against (`st2 deploy web`):
   * `<command> <args>` however the bot was addressed, Python whitespace collapsed (router.ts).
   */
  typed: string;
}

/** One per incoming message: what was said, by whom and where, and how to answer it. */
export interface Context {
  readonly msg: Message;
  /** The backend the message came in on (its name, message size, source_channel form). */
  readonly backend: ChatBackend;
  /** Set by the router once the command is recognised. */
  command?: ParsedCommand;
  /** The command definition the router dispatched to (its plugin and admin flag, for the ACL). */
  commandDef?: Command;
  /** Whether the sender matches the configured admins. */
  readonly isAdmin: boolean;
  /** Replies in the same room and thread as the message (or in the DM). */
  reply(text: string, extra?: Record<string, unknown>): Promise<void>;
  /** Sends somewhere else, e.g. a direct message to the sender. */
  send(target: Target, msg: Outgoing): Promise<void>;
}

/** Runs the rest of the chain; a middleware that does not call it stops the command. */
export type Next = () => Promise<void>;
/** One step before a command runs (the ACL): `(ctx, next)`, as in grammY and Hono. */
export type Middleware = (ctx: Context, next: Next) => Promise<void>;

/** A command the router can dispatch to. */
export interface Command {
  /** Errbot's plugin name, used in ACL keys `Plugin:command` (`St2`, `Help`, `Utils`). */
  plugin: string;
  /** Lower-case command name as typed after the prefix. */
  name: string;
  /** One line for `!help`. */
  help: string;
  /** Usage shown in help, e.g. `st2help [--pack P] [--filter F]`. */
  usage?: string;
  /** Only `bot.admins` may run it, and only in a direct message unless a rule sets `allowmuc`. */
  adminOnly?: boolean;
  /** Left out of `!help`. */
  hidden?: boolean;
  /**
   * Commands typed as `<name> <subcommand> ...` (`st2 cancel <id>`). A first argument word
   * naming one (case-insensitively) dispatches to it, ahead of this command's own `run`;
   * its ACL key is `Plugin:<subcommand name>`, its canonical text `<name> <subcommand> <args>`.
   */
  subcommands?: readonly Command[];
  run(ctx: Context): Promise<void>;
}

/**
 * A message for the outbox, in the shape of StackStorm's announcements (bot/ does not import
 * delivery/, which owns the schema).
 */
export interface BotMessage {
  message: string;
  channel?: string;
  user?: string;
  whisper?: boolean;
  extra?: Record<string, unknown>;
  context?: Record<string, unknown>;
  /** The text carries a secret (a login link): the outbox stores it sealed, never in clear. */
  secret?: boolean;
}
