/**
 * An outgoing message → a Rocket.Chat message body. Plain text is sent as `msg` (Rocket.Chat
 * renders its Markdown). `extra.rocketchat` fields make one attachment (or
 * `extra.rocketchat.attachments` replaces the list), `extra.color` colours it and a failed
 * execution is coloured as a failure by default, as the Mattermost backend does. Attachment
 * keys are kept only when Rocket.Chat accepts them with that type, and links only when they
 * are http(s): the server refuses a whole message for one bad `title_link`, and a
 * `javascript:` link must never reach people's browsers.
 */
import { type Attachment, attachmentColor, splitPretext } from "../attachments.ts";
import type { Outgoing } from "../types.ts";
import { isRecord } from "../../lib/json.ts";

/** Attachment colour of a failed execution when the announcement names none. */
export const FAILURE_COLOR = "#D24B4E";

/** The parts of a message body st2bot fills in. */
export interface MessageBody {
  msg: string;
  attachments?: Attachment[];
}

const TEXT_KEYS = ["color", "text", "title", "author_name", "image_type", "audio_type", "video_type"] as const;
const LINK_KEYS = ["title_link", "author_link", "author_icon", "image_url", "thumb_url", "message_link", "audio_url", "video_url"] as const;
const isLink = (x: unknown): x is string => typeof x === "string" && /^https?:\/\/[^\s]+$/i.test(x);

/** Turns text + `extra` into a message body. */
export function formatMessage(msg: Outgoing): MessageBody {
  const custom = isRecord(msg.extra?.rocketchat) ? msg.extra.rocketchat : undefined;
  const color = attachmentColor(msg.extra, msg.text, { failure: FAILURE_COLOR });
  const { pretext = "", body } = splitPretext(msg.text);
  const plain = { msg: pretext ? `${pretext}\n${body}` : body };
  if (!custom && !color) return plain;
  if (custom && Array.isArray(custom.attachments)) {
    const attachments = custom.attachments.filter(isRecord).map((a) => clean(color && !a.color ? { ...a, color } : a));
    return attachments.length ? { msg: pretext, attachments } : plain;
  }
  return { msg: pretext, attachments: [clean({ text: body, ...(color ? { color } : {}), ...custom })] };
}

/** Only the keys and types Rocket.Chat's message validation accepts. */
function clean(a: Record<string, unknown>): Attachment {
  const out: Attachment = {};
  for (const k of TEXT_KEYS) if (typeof a[k] === "string") out[k] = a[k];
  for (const k of LINK_KEYS) if (isLink(a[k])) out[k] = a[k];
  if (typeof a.collapsed === "boolean") out.collapsed = a.collapsed;
  if (typeof a.ts === "string" || typeof a.ts === "number") out.ts = a.ts;
  if (Array.isArray(a.fields)) {
    out.fields = a.fields.filter(isRecord).map((f) => ({
      ...(typeof f.title === "string" ? { title: f.title } : {}),
      ...(["string", "number", "boolean"].includes(typeof f.value) ? { value: String(f.value) } : {}),
      ...(typeof f.short === "boolean" ? { short: f.short } : {}),
    }));
  }
  return out;
}
