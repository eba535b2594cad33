/**
 * Incoming WebSocket events → our Message. Identities follow Errbot's Mattermost backend and
 * err-stackstorm, so existing ACLs and rules keep working: a person is `@username` (Errbot's
 * `aclattr` and `str()` of a MattermostPerson, and the `user` err-stackstorm's
 * MattermostChatAdapter sends to StackStorm); a room is `~channel-name` (`str()` of a
 * MattermostRoom).
 */
import * as v from "valibot";
import type { Identity, Message } from "../types.ts";
import { stripAtMention } from "../mention.ts";
import type { User } from "./directory.ts";

const EventSchema = v.object({ event: v.optional(v.string()), data: v.optional(v.record(v.string(), v.unknown()), {}) });

const PostedSchema = v.object({
  channel_type: v.string(),
  channel_name: v.optional(v.string(), ""),
  channel_display_name: v.optional(v.string(), ""),
  team_id: v.optional(v.string(), ""),
  post: v.string(),
  mentions: v.optional(v.string()),
});
type PostedEvent = v.InferOutput<typeof PostedSchema>;

const PostSchema = v.object({
  id: v.string(),
  user_id: v.string(),
  channel_id: v.string(),
  root_id: v.optional(v.string(), ""),
  message: v.optional(v.string(), ""),
  type: v.optional(v.string(), ""),
});
type Post = v.InferOutput<typeof PostSchema>;

/** A `posted` event with its post (which arrives as a JSON string) decoded. */
export interface Posted {
  event: PostedEvent;
  post: Post;
}

/** The event name and data of a WebSocket frame, or undefined when it is not an event. */
export function socketEvent(raw: unknown): { event?: string; data: Record<string, unknown> } | undefined {
  const parsed = v.safeParse(EventSchema, raw);
  return parsed.success ? parsed.output : undefined;
}

/** Decodes a `posted` event's data; undefined when it is not one. */
export function parsePosted(data: Record<string, unknown>): Posted | undefined {
  const event = v.safeParse(PostedSchema, data);
  if (!event.success) return undefined;
  const post = v.safeParse(PostSchema, safeJson(event.output.post));
  return post.success ? { event: event.output, post: post.output } : undefined;
}

/** Errbot's MattermostPerson: `@username` is both `str()` and `aclattr`; err-stackstorm sends it as `user`. */
export function identityOf(user: User): Identity {
  const fullName = `${user.first_name} ${user.last_name}`.trim();
  return {
    id: user.id,
    nick: user.username,
    ...(fullName ? { fullName } : {}),
    ...(user.email ? { email: user.email } : {}),
    aclId: `@${user.username}`,
    st2User: `@${user.username}`,
  };
}

/** Open and private channels are `~name` (Errbot's MattermostRoom); a group DM has no team name, so its title. */
export function roomName(type: string, name: string, displayName: string, id: string): string {
  if (type === "O" || type === "P") return `~${name}`;
  return displayName || id;
}

/** The message `from` posted, as the bot (`me`) sees it: command text without the leading mention. */
export function toMessage({ post: p, event: e }: Posted, from: Identity, me: User): Message {
  const direct = e.channel_type === "D";
  const mentionIds = v.safeParse(v.array(v.string()), safeJson(e.mentions ?? "[]"));
  const { text, named } = stripAtMention(p.message, me.username);
  const mentioned = named || (mentionIds.success && mentionIds.output.includes(me.id));
  return {
    text,
    from,
    direct,
    ...(direct ? {} : { room: { id: p.channel_id, name: roomName(e.channel_type, e.channel_name, e.channel_display_name, p.channel_id) } }),
    ...(p.root_id ? { thread: p.root_id } : {}),
    mentioned,
    raw: { post: p, event: e },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
