/**
 * The `user` and `channel` strings StackStorm sends back (announcements, webhooks) → a Slack
 * target. Accepts everything err-stackstorm and hubot-stackstorm put there: `<@U1>`, `<@U1|name>`,
 * `@name`, `<#C1>`, `<#C1|name>`, `#name`, `#name/nick` (Errbot's room occupant), raw U/W/C/G/D
 * ids and bare names.
 */
import { SendError } from "../../lib/errors.ts";
import type { Target } from "../types.ts";
import type { SlackConversation, SlackDirectory, SlackUser } from "./directory.ts";
import { isSlackError } from "./errors.ts";

/** What an address string names, before any lookup. */
export type SlackAddress =
  | { kind: "userId"; id: string }
  | { kind: "roomId"; id: string }
  | { kind: "userName"; name: string }
  | { kind: "roomName"; name: string }
  | { kind: "bare"; name: string };

const USER_ID = /^[UW][A-Z0-9]{2,}$/;
const ROOM_ID = /^[CGD][A-Z0-9]{2,}$/;

/** Reads one address; undefined when `value` cannot name anything (empty, spaces, stray `<>`). */
export function parseSlackAddress(value: string): SlackAddress | undefined {
  const s = value.trim();
  let m = /^<@([UWB][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(s);
  if (m) return { kind: "userId", id: m[1]! };
  m = /^<#([CGD][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(s);
  if (m) return { kind: "roomId", id: m[1]! };
  if (s.startsWith("@") && s.length > 1) return { kind: "userName", name: s.slice(1) };
  if (s.startsWith("#") && s.length > 1) return { kind: "roomName", name: s.slice(1).split("/")[0]! };
  if (USER_ID.test(s)) return { kind: "userId", id: s };
  if (ROOM_ID.test(s)) return { kind: "roomId", id: s };
  if (s === "" || /[\s<>]/.test(s)) return undefined;
  return { kind: "bare", name: s };
}

/**
 * Resolves `value` through `directory`. A bare name means what the field says first (hubot sends
 * plain names and ids). Throws a non-retryable SendError when nothing matches; a lookup that
 * failed for another reason (network, rate limit) throws that SendError instead.
 */
export async function resolveSlackAddress(directory: SlackDirectory, kind: "user" | "channel", value: string): Promise<Target> {
  const address = parseSlackAddress(value);
  const target = address && (await lookup(directory, kind, address));
  if (!target) throw new SendError(`Slack has no ${kind} "${value}"`, false);
  return target;
}

async function lookup(directory: SlackDirectory, kind: "user" | "channel", a: SlackAddress): Promise<Target | undefined> {
  const userNamed = async (name: string) => userTarget(await directory.userByName(name));
  const roomNamed = async (name: string) => roomTarget(await directory.roomByName(name));
  switch (a.kind) {
    case "userId":
      return userTarget(await unlessMissing(directory.user(a.id), "user_not_found"));
    case "roomId":
      return roomTarget(await unlessMissing(directory.room(a.id), "channel_not_found"));
    case "userName":
      return userNamed(a.name);
    case "roomName":
      return roomNamed(a.name);
    case "bare":
      return kind === "user" ? ((await userNamed(a.name)) ?? roomNamed(a.name)) : ((await roomNamed(a.name)) ?? userNamed(a.name));
  }
}

/** An id lookup where Slack's "no such thing" (`notFound`) means undefined and anything else is thrown. */
async function unlessMissing<T>(found: Promise<T>, notFound: string): Promise<T | undefined> {
  try {
    return await found;
  } catch (err) {
    if (isSlackError(err, notFound)) return undefined;
    throw err;
  }
}

function userTarget(user: SlackUser | undefined): Target | undefined {
  return user && !user.deleted ? { kind: "user", id: user.id, name: user.name } : undefined;
}

function roomTarget(room: SlackConversation | undefined): Target | undefined {
  if (!room) return undefined;
  // A DM's own id (hubot's source_channel) is posted to as is; no conversations.open needed.
  if (room.is_im) return { kind: "room", id: room.id };
  return { kind: "room", id: room.id, ...(room.name ? { name: `#${room.name}` } : {}) };
}
