/**
 * An outgoing message → a Mattermost post, following hubot-stackstorm's Mattermost adapter:
 * `extra.mattermost` fields override one Slack-style attachment (or `extra.mattermost.attachments`
 * replaces the list), `extra.color` colours it, and a failed execution is coloured as a failure
 * by default. Unlike Slack, the `{~}` pretext goes into the post's message, not the attachment.
 */
import { type Attachment, attachmentColor, splitPretext } from "../attachments.ts";
import type { Outgoing } from "../types.ts";
import { isRecord } from "../../lib/json.ts";

/** Attachment colour of a failed execution when the announcement names none (Mattermost's "danger"). */
export const FAILURE_COLOR = "#D24B4E";

/**
 * Mattermost mentions (`@channel`, `@all`, `@here`, `@alice`, group names) made inert: a zero-width
 * space after every `@` that could start one. Mattermost reads a mention only from `@` followed
 * by name characters, so the text looks the same and pings no one. An `@` inside a word
 * (`alice@example.com`) starts no mention and is left alone.
 */
export function escapeMentions(text: string): string {
  return text.replace(/(?<![\p{L}\p{N}])@/gu, "@\u200b");
}

/** The parts of a Mattermost post st2bot fills in from an Outgoing message. */
export interface PostBody {
  message: string;
  props?: { attachments: Attachment[] };
}

/**
 * Turns text + `extra` into a post: plain markdown unless the announcement asks for an
 * attachment (`extra.mattermost`, `extra.color`) or reports a failed execution.
 */
export function formatPost(msg: Outgoing): PostBody {
  const custom = isRecord(msg.extra?.mattermost) ? msg.extra.mattermost : undefined;
  // No success colour: a plain result stays a plain post.
  const color = attachmentColor(msg.extra, msg.text, { failure: FAILURE_COLOR });
  const { pretext = "", body } = splitPretext(msg.text);
  const plain = { message: pretext ? `${pretext}\n${body}` : body };
  if (!custom && !color) return plain;
  if (custom && Array.isArray(custom.attachments)) {
    // As hubot does: the announcement brings its own attachments; only the pretext is posted.
    const attachments = custom.attachments.filter(isRecord).map((a) => (color && !a.color ? { ...a, color } : a));
    if (attachments.length === 0) return plain;
    return { message: pretext, props: { attachments } };
  }
  const attachment: Attachment = { fallback: body, text: body, ...(color ? { color } : {}), ...custom };
  return { message: pretext, props: { attachments: [attachment] } };
}
