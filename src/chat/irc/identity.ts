/**
 * IRC identities and addresses. `user` is the nick and `source_channel` the `#channel` (the nick
 * for a private message), as issue 14 asks; the full `nick!user@host` mask is the identity's
 * `id` (so a stored StackStorm login is bound to the mask, not to a nick anyone can take) and
 * the ACL attribute stays the nick, the documented default because hostmasks change between
 * sessions. StackStorm's `user`/`channel` strings come back through `resolveTarget`, which also
 * takes err-stackstorm's legacy `nick!user@host` form.
 */
import type { PrivmsgEvent } from "irc-framework";
import { SendError } from "../../lib/errors.ts";
import type { Identity, Message, Target } from "../types.ts";
import { stripLeadingName } from "../mention.ts";

/** A nick as servers accept it (RFC 2812 plus the usual `-` and digits after the first). */
const NICK = /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]{0,63}$/;
/** A channel name: prefix, then no space, comma, BEL, NUL or line break. */
const CHANNEL = /^[#&+!][^\s,\x07\0:]{1,199}$/;

/** True when `name` is a channel name (starts with #, &, + or !). */
export const isChannel = (name: string) => CHANNEL.test(name);
/** True when `name` is a syntactically valid nick. */
export const isNick = (name: string) => NICK.test(name);

/** The sender of `e` as an Identity. */
export function identityOf(e: PrivmsgEvent): Identity {
  const mask = `${e.nick}!${e.ident}@${e.hostname}`;
  return { id: mask, nick: e.nick, aclId: e.nick, st2User: e.nick, aclMask: mask };
}

/** IRC formatting codes (bold, colour with its digits, italic, underline, reset, ...). */
const FORMATTING = /\x03(?:\d{1,2}(?:,\d{1,2})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g;

/**
 * A PRIVMSG as a Message, or undefined for what is not a person talking to the bot: server
 * notices, our own lines, and messages to channels we do not track.
 */
export function messageOf(e: PrivmsgEvent, ownNick: string, names: string[], channelName: (name: string) => string | undefined): Message | undefined {
  if (!e.nick || e.nick.toLowerCase() === ownNick.toLowerCase()) return undefined;
  const from = identityOf(e);
  // Clients colour and embolden what people type; commands are matched on the plain text.
  e = { ...e, message: e.message.replace(FORMATTING, "") };
  if (isChannel(e.target)) {
    const name = channelName(e.target);
    if (!name) return undefined;
    const { text, mentioned } = stripLeadingName(e.message, names);
    return { text, from, room: { id: name, name }, direct: false, mentioned, raw: e };
  }
  if (e.target.toLowerCase() !== ownNick.toLowerCase()) return undefined;
  const { text, mentioned } = stripLeadingName(e.message, names);
  return { text, from, direct: true, mentioned, raw: e };
}

/** The nick of a `nick` or err-stackstorm's legacy `nick!user@host`; undefined when neither. */
export function nickOf(value: string): string | undefined {
  const nick = value.trim().split("!")[0] ?? "";
  return isNick(nick) ? nick : undefined;
}

/**
 * StackStorm's `user` or `channel` string as a target. A channel must be one the bot is
 * configured for or in (`known` gives its spelling); a `channel` that is a nick (the
 * `source_channel` of a private message) is that person. Anything else is a non-retryable
 * SendError: a name with spaces or line breaks never reaches the wire.
 */
export function resolveTarget(kind: "user" | "channel", value: string, known: (name: string) => string | undefined): Target {
  const v = value.trim();
  if (kind === "channel" && isChannel(v)) {
    const name = known(v);
    if (!name) throw new SendError(`the bot is not in the IRC channel ${JSON.stringify(v)}: add it to irc.channels`, false);
    return { kind: "room", id: name, name };
  }
  const nick = nickOf(v);
  if (!nick) throw new SendError(`${JSON.stringify(value)} is not an IRC ${kind === "channel" ? "channel (#name) or nick" : "nick (or nick!user@host)"}`, false);
  return { kind: "user", id: nick, name: nick };
}
