/**
 * Gateway dispatches → st2bot's shapes. Only the fields st2bot uses are read, through valibot,
 * so an event Discord extends later still parses and a malformed one is dropped, not trusted.
 * Identity follows the issue: a person is `<@id>` (immutable; usernames can be changed and
 * later taken by someone else, so ACLs match the id) and a channel `<#id>`.
 */
import * as v from "valibot";
import type { Identity, Message } from "../types.ts";

const UserSchema = v.object({
  id: v.string(),
  username: v.string(),
  global_name: v.optional(v.nullable(v.string())),
  bot: v.optional(v.boolean()),
});

/** The parts of a MESSAGE_CREATE st2bot reads. */
export const MessageCreateSchema = v.object({
  id: v.string(),
  channel_id: v.string(),
  guild_id: v.optional(v.string()),
  author: UserSchema,
  content: v.string(),
  webhook_id: v.optional(v.string()),
  type: v.number(),
  mentions: v.optional(v.array(v.object({ id: v.string() })), []),
});
export type MessageCreate = v.InferOutput<typeof MessageCreateSchema>;
export type DiscordUser = v.InferOutput<typeof UserSchema>;

/** A channel as GUILD_CREATE, CHANNEL_* and THREAD_* carry it. */
export const ChannelSchema = v.object({
  id: v.string(),
  type: v.number(),
  name: v.optional(v.nullable(v.string())),
  guild_id: v.optional(v.string()),
  parent_id: v.optional(v.nullable(v.string())),
});
export type Channel = v.InferOutput<typeof ChannelSchema>;

export const GuildCreateSchema = v.object({
  id: v.string(),
  unavailable: v.optional(v.boolean()),
  channels: v.optional(v.array(ChannelSchema), []),
  threads: v.optional(v.array(ChannelSchema), []),
});

/** Channel types that are threads (announcement, public, private): a thread belongs to its parent. */
export const THREAD_TYPES = new Set([10, 11, 12]);
/** Message types people type: DEFAULT and REPLY (joins, pins, boosts are not speech). */
const SPEECH_TYPES = new Set([0, 19]);

/** `<@id>`: how Discord writes a mention, and the `user` st2bot sends to StackStorm. */
export const userMention = (id: string): string => `<@${id}>`;
/** `<#id>`: a channel mention, and the `source_channel` st2bot sends for a room. */
export const channelMention = (id: string): string => `<#${id}>`;

/** The sender as st2bot's Identity: the id is what ACLs and StackStorm see, the username what people read. */
export function identityOf(u: DiscordUser): Identity {
  return { id: u.id, nick: u.username, fullName: u.global_name || u.username, aclId: userMention(u.id), st2User: userMention(u.id) };
}

/** The room a message was posted in, and its thread when the channel is one. */
export interface Where {
  room?: { id: string; name: string };
  thread?: string;
}

/**
 * A MESSAGE_CREATE as a Message for the bot, or undefined: the bot's own messages (they come
 * back as events), other bots' and webhooks' (no loops between bots, and a webhook can claim
 * any name) and system messages are not commands.
 */
export function toMessage(m: MessageCreate, botId: string, where: Where): Message | undefined {
  if (m.author.id === botId || m.author.bot || m.webhook_id || !SPEECH_TYPES.has(m.type)) return undefined;
  const direct = m.guild_id === undefined;
  // Only a leading mention addresses the bot (as on Slack): Discord also lists the bot in
  // `mentions` when someone merely replies to one of its messages.
  const lead = new RegExp(`^\\s*<@!?${botId}>[:,]?\\s*`).exec(m.content);
  const mentioned = lead !== null;
  return {
    text: lead ? m.content.slice(lead[0].length) : m.content,
    from: identityOf(m.author),
    direct,
    ...(direct || !where.room ? {} : { room: where.room }),
    ...(where.thread && !direct ? { thread: where.thread } : {}),
    ...(mentioned ? { mentioned } : {}),
    raw: m,
  };
}
