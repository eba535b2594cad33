/**
 * Client-side login from chat: `st2session_start <shared word>` (direct message only) hands out
 * a one-time login URL; `st2session_end` forgets your credentials; admins list and cancel.
 */
import type { Config } from "../../config/schema.ts";
import type { Message } from "../../chat/types.ts";
import type { Identities } from "../../auth/identity.ts";
import { WindowLimit, type WindowLimitOptions } from "../../auth/limit.ts";
import { CommandError } from "../../lib/errors.ts";
import type { Command } from "../types.ts";
import { pluginPrefix } from "../names.ts";

/**
 * The key a chat user's StackStorm credential is stored under, unique across backends: their
 * account, never a nick (see `Identity.account`). Undefined when the service hides who they are.
 */
export function chatUserKey(backend: string, msg: Message): string | undefined {
  const account = msg.from.account === undefined ? msg.from.id : msg.from.account;
  return account === null ? undefined : `${backend}:${account}`;
}

/** Why nothing personal works for someone whose account the service hides. */
export const ANONYMOUS =
  "I cannot tell who you are here: this room hides its members' real addresses, so a StackStorm login linked to your nick would pass to whoever takes the nick after you. Message me directly from your own account instead (not through the room).";

/** `chatUserKey`, or a CommandError saying why there is none. */
export function requireChatUserKey(backend: string, msg: Message): string {
  const key = chatUserKey(backend, msg);
  if (key === undefined) throw new CommandError(ANONYMOUS);
  return key;
}

/**
 * How many login links one chat user may ask for: each costs an argon2id hash (19 MiB while it
 * runs), and a user needs a new link only when the last one expired or the word was mistyped.
 */
export const SESSION_START_LIMIT: WindowLimitOptions = { max: 3, windowMs: 10 * 60_000 };

/**
 * `<pp>session_start`, `<pp>session_end` and, for admins, `<pp>session_list` and
 * `<pp>session_cancel`. Each refuses with a plain message unless client-side login is enabled.
 */
export function sessionCommands(config: Config, identities: Identities, limit: WindowLimitOptions = SESSION_START_LIMIT): Command[] {
  const pp = pluginPrefix(config);
  const starts = new WindowLimit(limit);
  const base = config.stackstorm.rbac_auth.clientside?.url.replace(/\/*$/, "/");
  const requireClientside = () => {
    if (!base) throw new CommandError("Client-side login is not enabled here: every command runs with the bot's StackStorm credentials.");
  };
  return [
    {
      plugin: "St2",
      name: `${pp}session_start`,
      usage: `${pp}session_start <shared word>`,
      secretArgs: true,
      help: "Link your own StackStorm identity: replies with a one-time login link (direct message only)",
      run: async (ctx) => {
        requireClientside();
        if (!ctx.msg.direct) {
          throw new CommandError(`For your safety ${pp}session_start only works in a direct message to me: the shared word and the login link must not be seen by others.`);
        }
        const word = ctx.command?.args ?? "";
        if (!word) throw new CommandError(`Usage: ${config.bot.prefix}${pp}session_start <shared word> — pick a word you will type again on the login page.`);
        const user = requireChatUserKey(ctx.chat.name, ctx.msg);
        const verdict = starts.take(user);
        if (!verdict.ok) {
          const wait = Math.max(1, Math.ceil(verdict.retryAfterMs / 60_000));
          throw new CommandError(
            `You asked for ${verdict.count} login links in the last ${Math.round(limit.windowMs / 60_000)} minutes, the most I hand out; please ask again in ${wait} minute${wait === 1 ? "" : "s"}. The last link I sent you still works until it expires or is used.`,
          );
        }
        const id = await identities.sessions.start(user, word);
        const minutes = Math.round(config.stackstorm.session_ttl / 60);
        // Marked secret: the outbox keeps the link encrypted until it is delivered.
        const text = `Open ${base}login/${id} within ${minutes} minutes and log in to StackStorm there. The link works once.`;
        await ctx.replySecret(text);
      },
    },
    {
      plugin: "St2",
      name: `${pp}session_end`,
      help: "Forget your StackStorm credentials and end your login session",
      run: async (ctx) => {
        requireClientside();
        const had = await identities.forget(requireChatUserKey(ctx.chat.name, ctx.msg));
        await ctx.reply(had ? "Your StackStorm session has ended and your stored credentials were deleted." : "You had no StackStorm session; nothing was stored for you.");
      },
    },
    {
      plugin: "St2",
      name: `${pp}session_list`,
      adminOnly: true,
      help: "List open login sessions and users with stored StackStorm credentials (admins)",
      run: async (ctx) => {
        requireClientside();
        const open = (await identities.sessions.list()).map((s) => `  ${s.chatUser} (id ${s.ref}, expires ${new Date(s.expiresAt).toISOString()})`);
        const linked = identities.store.users().map((u) => `  ${u}`);
        await ctx.reply(
          `Open login sessions: ${open.length ? "\n" + open.join("\n") : "none"}\nUsers with stored credentials: ${linked.length ? "\n" + linked.join("\n") : "none"}`,
        );
      },
    },
    {
      plugin: "St2",
      name: `${pp}session_cancel`,
      adminOnly: true,
      usage: `${pp}session_cancel <user or id>`,
      help: "Cancel a user's login session and delete their stored credentials (admins)",
      run: async (ctx) => {
        requireClientside();
        const who = ctx.command?.args ?? "";
        if (!who) throw new CommandError(`Usage: ${config.bot.prefix}${pp}session_cancel <user or id>`);
        const user = who.includes(":") ? who : `${ctx.chat.name}:${who.replace(/^@/, "")}`;
        const cancelled = (await identities.sessions.cancel(who)) + (await identities.sessions.cancel(user));
        const deleted = await identities.forget(user);
        await ctx.reply(cancelled || deleted ? `Cancelled ${cancelled} session(s)${deleted ? ` and deleted the stored credentials of ${user}` : ""}.` : `No session or stored credentials found for "${who}".`);
      },
    },
  ];
}
