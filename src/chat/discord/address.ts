/**
 * The `user` and `channel` strings StackStorm sends back (announcements, webhooks) → a Discord
 * target. Accepted: st2bot's own `<@id>` and `<#id>` (also `<@!id>`, the old nickname mention),
 * and what err-backend-discord (Errbot) builds identifiers from or prints: `#channel`,
 * `#channel@guild_id`, `@username#discriminator`, a room occupant `username#0@channel`, plus
 * `@username`, a bare username and a bare id. Names resolve among what the bot has seen.
 */
import { SendError } from "../../lib/errors.ts";
import type { Target } from "../types.ts";
import type { DiscordDirectory } from "./directory.ts";
import { THREAD_TYPES } from "./events.ts";
import { SNOWFLAKE } from "./settings.ts";

type Kind = "user" | "channel";

/** Resolves `value`; throws a non-retryable SendError when it names nothing the bot can reach. */
export async function resolveDiscordAddress(dir: DiscordDirectory, kind: Kind, value: string): Promise<Target> {
  const text = value.trim();
  const mention = /^<(@!?|#)(\d+)>$/.exec(text);
  if (mention) return mention[1] === "#" ? channelById(dir, mention[2]!, text) : userById(dir, mention[2]!, text);
  const named = /^#([^@#\s]+)(?:@(\d+))?$/.exec(text);
  if (named) return channelByName(dir, named[1]!, named[2], text);
  const occupant = /^@?([^@#\s]+)#(\d{1,4})@([^@#\s]+)$/.exec(text);
  if (occupant) return kind === "user" ? userByName(dir, occupant[1]!, text) : channelByName(dir, occupant[3]!, undefined, text);
  const person = /^@?([^@#\s<>]+)(?:#\d{1,4})?$/.exec(text);
  if (SNOWFLAKE.test(text)) {
    const first = kind === "user" ? userById : channelById;
    const second = kind === "user" ? channelById : userById;
    return first(dir, text, text).catch((err) => (isNotFound(err) ? second(dir, text, text) : Promise.reject(err)));
  }
  if (person && (kind === "user" || text.startsWith("@"))) return userByName(dir, person[1]!, text);
  if (person) return channelByName(dir, person[1]!, undefined, text).catch((err) => (isNotFound(err) ? userByName(dir, person[1]!, text) : Promise.reject(err)));
  throw notFound(kind, text);
}

class NotFound extends SendError {}
const notFound = (what: string, asked: string) => new NotFound(`Discord: no ${what} "${asked}" that the bot can reach`, false);
const isNotFound = (err: unknown) => err instanceof NotFound;

async function channelById(dir: DiscordDirectory, id: string, asked: string): Promise<Target> {
  const c = await dir.channelById(id);
  if (!c) throw notFound("channel", asked);
  // A thread is its parent's room with a thread; a DM channel is its own room (sends go to the id).
  const parent = THREAD_TYPES.has(c.type) && c.parent_id ? c.parent_id : undefined;
  if (parent) return { kind: "room", id: parent, name: dir.roomName(parent), thread: id };
  return { kind: "room", id, name: dir.roomName(id) };
}

async function userById(dir: DiscordDirectory, id: string, asked: string): Promise<Target> {
  const u = await dir.userById(id);
  if (!u) throw notFound("user", asked);
  return { kind: "user", id: u.id, name: u.username };
}

async function channelByName(dir: DiscordDirectory, name: string, guild: string | undefined, asked: string): Promise<Target> {
  const c = dir.channelByName(name, guild);
  if (!c) throw notFound("channel", asked);
  return { kind: "room", id: c.id, name: `#${name}` };
}

async function userByName(dir: DiscordDirectory, name: string, asked: string): Promise<Target> {
  const u = dir.userByName(name);
  if (!u) throw notFound("user", asked);
  return { kind: "user", id: u.id, name: u.username };
}
