/**
 * What a /sync response holds for the bot, read with valibot: invitations, each joined room's
 * new events (messages, encryption switched on, members), `m.direct` and `next_batch`; and an
 * `m.room.message` event turned into a st2bot Message.
 */
import * as v from "valibot";
import type { Identity, Message } from "../types.ts";
import { escapeRegExp } from "../mention.ts";

const EventSchema = v.object({
  type: v.string(),
  event_id: v.optional(v.string()),
  sender: v.string(),
  state_key: v.optional(v.string()),
  origin_server_ts: v.optional(v.number()),
  content: v.record(v.string(), v.unknown()),
});
/** One event of a room's timeline or state, as /sync gives it. */
export type RoomEvent = v.InferOutput<typeof EventSchema>;

const Events = v.optional(v.object({ events: v.optional(v.array(v.unknown()), []) }), { events: [] });
const SyncSchema = v.object({
  next_batch: v.string(),
  account_data: Events,
  rooms: v.optional(
    v.object({
      join: v.optional(v.record(v.string(), v.object({ state: Events, timeline: Events })), {}),
      invite: v.optional(v.record(v.string(), v.object({ invite_state: Events })), {}),
      leave: v.optional(v.record(v.string(), v.unknown()), {}),
    }),
    {},
  ),
});

export interface Invite {
  roomId: string;
  /** Who invited the bot (the sender of its `invite` membership). */
  inviter?: string;
  /** The inviter flagged the room as a direct chat (`is_direct`). */
  direct: boolean;
  /** The invitation's room state says the room is end-to-end encrypted. */
  encrypted: boolean;
}

export interface JoinedRoom {
  roomId: string;
  /** State then timeline events, in order; malformed events left out. */
  events: RoomEvent[];
}

/** One /sync answer, reduced to what the bot acts on. */
export interface SyncBatch {
  nextBatch: string;
  joined: JoinedRoom[];
  invites: Invite[];
  left: string[];
  /** The bot's `m.direct` account data when it changed: user id → their direct rooms. */
  direct?: Record<string, string[]>;
}

const events = (list: unknown[]): RoomEvent[] => list.flatMap((e) => {
  const parsed = v.safeParse(EventSchema, e);
  return parsed.success ? [parsed.output] : [];
});

const DirectSchema = v.record(v.string(), v.array(v.string()));

/** Reads a /sync body for the bot `me`; throws a valibot error when it is not a sync answer at all. */
export function readSync(body: unknown, me: string): SyncBatch {
  const s = v.parse(SyncSchema, body);
  const joined = Object.entries(s.rooms.join).map(([roomId, r]) => ({ roomId, events: [...events(r.state.events), ...events(r.timeline.events)] }));
  const invites = Object.entries(s.rooms.invite).map(([roomId, r]): Invite => {
    const state = events(r.invite_state.events);
    const mine = state.find((e) => e.type === "m.room.member" && e.state_key === me && e.content.membership === "invite");
    const encrypted = state.some((e) => e.type === "m.room.encryption");
    return { roomId, ...(mine ? { inviter: mine.sender } : {}), direct: mine?.content.is_direct === true, encrypted };
  });
  const directEvent = events(s.account_data.events).findLast((e) => e.type === "m.direct");
  const direct = directEvent ? v.safeParse(DirectSchema, directEvent.content) : undefined;
  return { nextBatch: s.next_batch, joined, invites, left: Object.keys(s.rooms.leave), ...(direct?.success ? { direct: direct.output } : {}) };
}

/** A Matrix person as st2bot sees them: the full `@name:server` id is the ACL attribute and the StackStorm user. */
export function identityOf(userId: string, displayName?: string): Identity {
  const nick = /^@([^:]+):/.exec(userId)?.[1] ?? userId;
  return { id: userId, nick, ...(displayName ? { fullName: displayName } : {}), aclId: userId, st2User: userId };
}

const RelatesSchema = v.object({ rel_type: v.optional(v.string()), event_id: v.optional(v.string()) });
const MentionsSchema = v.object({ user_ids: v.optional(v.array(v.string()), []) });

/** Where a message event was seen. */
export interface Place {
  roomId: string;
  /** The room's alias or name for people; the room id when it has none. */
  roomName: string;
  direct: boolean;
}

/**
 * The Message an `m.room.message` event carries, or undefined when it is not one people type
 * for the bot: notices (other bots; the spec says bots must not answer them), edits, emotes and
 * anything but `m.text`. `names` are the bot's names (user id, localpart, display name).
 */
export function toMessage(e: RoomEvent, place: Place, from: Identity, me: string, names: string[]): Message | undefined {
  if (e.type !== "m.room.message" || typeof e.content.body !== "string") return undefined;
  if (e.content.msgtype !== "m.text") return undefined;
  const rel = v.safeParse(RelatesSchema, e.content["m.relates_to"]);
  // An edit (m.replace) repeats a message already handled; running it again would run twice.
  if (rel.success && rel.output.rel_type === "m.replace") return undefined;
  const thread = rel.success && rel.output.rel_type === "m.thread" ? rel.output.event_id : undefined;
  const mentions = v.safeParse(MentionsSchema, e.content["m.mentions"]);
  const reply = rel.success && v.is(v.object({ "m.in_reply_to": v.object({ event_id: v.string() }) }), e.content["m.relates_to"]);
  const { text, named } = stripName(reply ? stripReplyFallback(e.content.body) : e.content.body, names);
  return {
    text,
    from,
    direct: place.direct,
    ...(place.direct ? {} : { room: { id: place.roomId, name: place.roomName } }),
    ...(thread ? { thread } : {}),
    mentioned: named || (mentions.success && mentions.output.user_ids.includes(me)),
    raw: { event: e, roomId: place.roomId },
  };
}

/**
 * A reply's `body` may start with the quoted message (`> <@bob:x> …` lines, then a blank line):
 * the fallback older clients add. Left in, it would hide the command.
 */
export function stripReplyFallback(body: string): string {
  const lines = body.split("\n");
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith(">")) i++;
  if (i === 0 || (i < lines.length && lines[i] !== "")) return body;
  return lines.slice(i + 1).join("\n");
}

/** `st2bot: deploy x` (the form clients put in `body` for a mention) → `deploy x`. */
function stripName(body: string, names: string[]): { text: string; named: boolean } {
  for (const name of names.filter(Boolean).sort((a, b) => b.length - a.length)) {
    const leading = new RegExp(`^\\s*@?${escapeRegExp(name)}(?![\\w-])[:,]?\\s+`, "i");
    if (leading.test(body)) return { text: body.replace(leading, ""), named: true };
  }
  return { text: body, named: false };
}
