/**
 * Incoming Slack events → the pieces of our Message. Identities follow Errbot's slackv3 backend
 * and err-stackstorm's SlackChatV3Adapter, so existing ACLs and rules keep working:
 *
 * - a person's ACL attribute is their user id `U123` (slackv3's `aclattr`);
 * - the `user` sent to StackStorm is what `SlackChatV3Adapter.get_username` returns: `<@U123>` in
 *   a DM and, because Errbot names a room occupant `#channel/nick`, `#channel` in a room.
 */
import * as v from "valibot";
import type { Identity } from "../types.ts";
import { escapeRegExp } from "../mention.ts";
import type { SlackUser } from "./directory.ts";

/** Who the bot is, from auth.test. */
export interface SlackSelf {
  userId: string;
  name: string;
  botId?: string;
}

const EventsApiBodySchema = v.object({ event: v.looseObject({ type: v.string() }) });

const MessageEventSchema = v.object({
  type: v.picklist(["message", "app_mention"]),
  channel: v.string(),
  user: v.optional(v.string()),
  text: v.optional(v.string(), ""),
  ts: v.string(),
  thread_ts: v.optional(v.string()),
  channel_type: v.optional(v.string()),
  subtype: v.optional(v.string()),
  bot_id: v.optional(v.string()),
});
/** A `message` or `app_mention` event, validated. */
export type SlackMessageEvent = v.InferOutput<typeof MessageEventSchema>;

/** The message event inside an Events API envelope body, or undefined for any other event. */
export function messageEvent(body: unknown): SlackMessageEvent | undefined {
  const outer = v.safeParse(EventsApiBodySchema, body);
  if (!outer.success) return undefined;
  const event = v.safeParse(MessageEventSchema, outer.output.event);
  return event.success ? event.output : undefined;
}

/**
 * True when a person (not the bot itself) said something: edits, joins, topic changes and bot
 * posts are not commands; a thread reply also sent to the channel is.
 */
export function isSpeech(ev: SlackMessageEvent, self: SlackSelf): ev is SlackMessageEvent & { user: string } {
  if (!ev.user || ev.user === self.userId || (ev.bot_id && ev.bot_id === self.botId)) return false;
  return ev.subtype === undefined || ev.subtype === "thread_broadcast";
}

/** A DM: the channel type says so, or (for `app_mention`, which has none) the `D` id prefix. */
export function isDirect(ev: SlackMessageEvent): boolean {
  return ev.type === "message" && (ev.channel_type === "im" || ev.channel.startsWith("D"));
}

/**
 * What Slack's encoding of a typed message hides: links `<http://x|x>` back to what was typed,
 * `&amp; &lt; &gt;`, and the smart quotes clients insert (hubot-stackstorm does the same), so
 * alias parameters arrive as the person meant them. Mentions `<@U1>`/`<#C1|x>` stay as they are.
 */
export function normaliseIncomingText(text: string): string {
  return text
    .replace(/<((?:https?|mailto):[^|>]+)\|([^>]+)>/g, "$2")
    .replace(/<((?:https?|mailto):[^>]+)>/g, "$1")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/** Strips a leading `<@UBOT>` (or `@st2bot`) and the `:`/`,` people put after it. */
export function stripMention(text: string, self: SlackSelf): { text: string; mentioned: boolean } {
  const escaped = escapeRegExp(self.name);
  const lead = new RegExp(`^\\s*(?:<@${self.userId}(?:\\|[^>]*)?>|@${escaped}\\b)[:,]?\\s*`, "i");
  const m = lead.exec(text);
  return m ? { text: text.slice(m[0].length), mentioned: true } : { text, mentioned: false };
}

/**
 * Errbot slackv3's person: `aclattr` the user id; err-stackstorm's `user` per the file comment.
 * `user` is the directory's entry when the lookup worked; without it the id stands in for the nick.
 */
export function slackIdentity(userId: string, user: SlackUser | undefined, roomName: string | undefined): Identity {
  const id: Identity = {
    id: userId,
    nick: user?.profile.display_name || user?.name || userId,
    aclId: userId,
    st2User: roomName === undefined ? `<@${userId}>` : `#${roomName}`,
  };
  const fullName = user?.profile.real_name || user?.real_name;
  if (fullName) id.fullName = fullName;
  if (user?.profile.email) id.email = user.profile.email;
  return id;
}
