/**
 * `stream-room-messages` / `__my_messages__` events → our Message. The server sends each
 * message of every room the bot can see as `changed` with `fields.args = [message, {
 * roomParticipant, roomType, roomName }]` (and sends it again on every edit, reaction or
 * thread reply). Identities: a person is `@username` (their `user` for StackStorm and their
 * ACL name); a room's `source_channel` is its id, its name `#name`.
 */
import * as v from "valibot";
import type { Identity, Message } from "../types.ts";
import { stripAtMention } from "../mention.ts";
import { MY_MESSAGES } from "./ddp.ts";
import type { RcUser } from "./rest.ts";

const UserRefSchema = v.object({ _id: v.string(), username: v.string(), name: v.optional(v.nullable(v.string())) });

const MessageSchema = v.object({
  _id: v.string(),
  rid: v.string(),
  msg: v.optional(v.string(), ""),
  u: UserRefSchema,
  /** A system message's type (user joined, topic changed…); absent for speech. */
  t: v.optional(v.string()),
  tmid: v.optional(v.string()),
  editedAt: v.optional(v.unknown()),
  mentions: v.optional(v.array(v.object({ _id: v.optional(v.string()), username: v.optional(v.string()) })), []),
});
export type RcMessage = v.InferOutput<typeof MessageSchema>;

const RoomInfoSchema = v.object({
  roomParticipant: v.optional(v.boolean()),
  roomType: v.optional(v.string()),
  roomName: v.optional(v.nullable(v.string())),
});

const FieldsSchema = v.object({ eventName: v.string(), args: v.array(v.unknown()) });

/** One streamed message and what the server says about its room. */
export interface Streamed {
  message: RcMessage;
  /** `c` channel, `p` private group, `d` direct, `l` livechat; undefined when not told. */
  roomType?: string;
  roomName?: string;
  /** False when the bot is not a member (the server streams public channels it may only read). */
  participant: boolean;
}

/** Decodes a `changed` frame's fields; undefined when they are not a `__my_messages__` message. */
export function parseStreamed(fields: unknown): Streamed | undefined {
  const f = v.safeParse(FieldsSchema, fields);
  if (!f.success || f.output.eventName !== MY_MESSAGES) return undefined;
  const message = v.safeParse(MessageSchema, f.output.args[0]);
  if (!message.success) return undefined;
  const room = v.safeParse(RoomInfoSchema, f.output.args[1] ?? {});
  const info = room.success ? room.output : {};
  return {
    message: message.output,
    ...(info.roomType ? { roomType: info.roomType } : {}),
    ...(info.roomName ? { roomName: info.roomName } : {}),
    participant: info.roomParticipant !== false,
  };
}

/** `@username` is both the ACL name and the `user` StackStorm gets, as hubot-rocketchat and Errbot's backend name people. */
export function identityOf(u: { _id: string; username: string; name?: string | null }): Identity {
  return {
    id: u._id,
    nick: u.username,
    ...(u.name ? { fullName: u.name } : {}),
    aclId: `@${u.username}`,
    st2User: `@${u.username}`,
  };
}

/** The message as the bot (`me`) sees it: command text without a leading mention of the bot. */
export function toMessage(s: Streamed, me: RcUser): Message {
  const m = s.message;
  // Servers that stream no room details: a direct room's id is the two user ids joined.
  const direct = s.roomType === "d" || (s.roomType === undefined && m.rid.length > me._id.length && m.rid.includes(me._id));
  const { text, named } = stripAtMention(m.msg, me.username);
  const mentioned = named || m.mentions.some((x) => x._id === me._id || x.username === me.username);
  return {
    text,
    from: identityOf(m.u),
    direct,
    ...(direct ? {} : { room: { id: m.rid, name: s.roomName ? `#${s.roomName}` : m.rid } }),
    ...(m.tmid ? { thread: m.tmid } : {}),
    mentioned,
    raw: s,
  };
}

