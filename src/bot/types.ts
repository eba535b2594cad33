/**
 * The shapes every command and middleware in src/bot shares: one context per incoming message
 * (grammY/Hono style), so command code never imports a backend.
 */
import type { ActionRequest, Message } from "../chat/types.ts";

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

/**
 * What a command may know of the chat service a message came in on: never the backend itself,
 * so everything a command says goes through `Context.reply` into the durable outbox.
 */
export interface ChatInfo {
  /** The backend's registry name (`slack`): `source_context.backend`, the prefix of chat user keys. */
  readonly name: string;
  /** Longest text one message may hold on this service (characters). */
  readonly maxMessageLength: number;
  /** The `source_channel` StackStorm gets for this message (err-stackstorm's form on this service). */
  sourceChannel(): string;
}

/** One per incoming message: what was said, by whom and where, and how to answer it. */
export interface Context {
  readonly msg: Message;
  /** The chat service the message came in on, as far as commands need it. */
  readonly chat: ChatInfo;
  /** Set by the router once the command is recognised. */
  command?: ParsedCommand;
  /** The command definition the router dispatched to (its plugin and admin flag, for the ACL). */
  commandDef?: Command;
  /** Whether the sender matches the configured admins. */
  readonly isAdmin: boolean;
  /** What the command did, for its one audit line (see audit.ts); filled in as it runs. */
  audit?: Audit;
  /** Replies in the same room and thread as the message (or in the DM). */
  reply(text: string, extra?: Record<string, unknown>): Promise<void>;
  /**
   * Replies with text that carries a secret (a login link): the outbox keeps it sealed until
   * it is delivered. Only for messages in a direct chat (the caller refuses rooms).
   */
  replySecret(text: string): Promise<void>;
}

/** What a command did, for the audit line the router writes once it is done. */
export interface Audit {
  /** The action alias run (`pack.name`). */
  alias?: string;
  /** The execution StackStorm started. */
  execution?: string;
  /** The StackStorm user it ran as (client-side auth). */
  st2User?: string;
  /** How it ended when not plainly `ok`: `denied by the ACL`, `refused: …`, `error <id>`. */
  outcome?: string;
}

/** Runs the rest of the chain; a middleware that does not call it stops the command. */
export type Next = () => Promise<void>;
/**
 * One step before a command runs (the ACL): `(ctx, next)`, as in grammY and Hono. A step that
 * can decide at once also offers `now`, the same verdict without the chain's closures and
 * awaits: `true` when the command may go on (where `(ctx, next)` would call `next()`), else
 * the promise of the refusal being told (where `(ctx, next)` would not call it). The router
 * takes that shortcut when every step offers it.
 */
export type Middleware = ((ctx: Context, next: Next) => Promise<void>) & { now?: (ctx: Context) => true | Promise<void> };

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
  /** Its arguments are secret (a shared word): the audit line shows `***` instead. */
  secretArgs?: boolean;
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
  /** Controls under the message (see `ActionRequest`); backends without them show the text alone. */
  actions?: ActionRequest[];
}
