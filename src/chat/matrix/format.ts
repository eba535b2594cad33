/**
 * Outgoing messages as `m.room.message` content: a plain `body` (what every client and
 * notification shows) and an `org.matrix.custom.html` `formatted_body` rendered from the
 * Markdown StackStorm templates use (Slack-style `<url|label>` links too), coloured from
 * `extra`. Raw HTML in the text is shown as text, never interpreted. Mentions are explicit
 * (`m.mentions`): the user ids the text names, never `@room`.
 */
import { Marked } from "marked";
import { attachmentColor, splitPretext } from "../attachments.ts";
import type { Outgoing } from "../types.ts";
import { isRecord } from "../../lib/json.ts";

/** Colours for an announcement without `extra.color` (Slack's good/danger). */
export const SUCCESS_COLOR = "#2eb886";
export const FAILURE_COLOR = "#a30200";
const NAMED: Record<string, string> = { good: SUCCESS_COLOR, warning: "#daa038", danger: FAILURE_COLOR };

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const markdown = new Marked({ gfm: true, breaks: true, async: false });
markdown.use({
  renderer: {
    // Text from command output may hold markup; it is data, so it is shown, not rendered.
    html: (token) => escapeHtml(token.text),
    link(token) {
      const label = this.parser.parseInline(token.tokens);
      if (!/^(https?|mailto):/i.test(token.href)) return label;
      return `<a href="${escapeHtml(token.href)}">${label}</a>`;
    },
    image: (token) => escapeHtml(token.text || token.href),
  },
});

/** Slack-style links (`<url|label>`, `<url>`), which StackStorm packs write, as Markdown links. */
const slackLinks = (text: string) =>
  text.replace(/<((?:https?|mailto):[^|>\s]+)\|([^>]+)>/g, "[$2]($1)").replace(/<((?:https?|mailto):[^|>\s]+)>/g, "$1");

/** Markdown → HTML as Matrix clients accept it (`org.matrix.custom.html`). */
export function toHtml(text: string): string {
  return (markdown.parse(slackLinks(text)) as string).trim();
}

/** Plain text for `body`: Slack links become `label (url)`, code fences go (the code stays). */
export function toPlain(text: string): string {
  return text
    .replace(/<((?:https?|mailto):[^|>\s]+)\|([^>]+)>/g, (_, url: string, label: string) => (label === url ? url : `${label} (${url})`))
    .replace(/<((?:https?|mailto):[^|>\s]+)>/g, "$1")
    .replace(/^\s*```[\w+#.-]*\s*$\n?/gm, "");
}

/** Full Matrix user ids the text names (`@alice:example.org`), for `m.mentions`. */
export function mentionedUsers(text: string): string[] {
  // The server part ends with a letter or digit: "ask @alice:example.org." names @alice:example.org.
  const found = text.match(/(?<![\w@/])@[a-z0-9._=\-/+]+:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::\d+)?(?![\w])/gi) ?? [];
  return [...new Set(found)];
}

/** A colour safe in an attribute: `#rgb`/`#rrggbb` or one of Slack's names. */
function cssColor(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const named = NAMED[value.toLowerCase()];
  if (named) return named;
  return /^#?[0-9a-f]{6}$|^#?[0-9a-f]{3}$/i.test(value) ? (value.startsWith("#") ? value : `#${value}`) : undefined;
}

/** What `extra.matrix` may set: `msgtype` (`m.notice`, the default for bots, or `m.text`). */
function msgtypeOf(extra: Record<string, unknown> | undefined): "m.notice" | "m.text" {
  const mx = isRecord(extra?.matrix) ? extra.matrix : undefined;
  return mx?.msgtype === "m.text" ? "m.text" : "m.notice";
}

/**
 * The content of one `m.room.message`. hubot's `pretext{~}body` puts the pretext above the
 * body; a colour (from `extra.color`, or the failure colour for a failed execution) marks the
 * message with a coloured bar, as Slack's attachment does. Sent as `m.notice` (the spec's type
 * for automated messages: other bots do not answer it) unless `extra.matrix.msgtype` says `m.text`.
 */
export function toContent(msg: Outgoing): Record<string, unknown> {
  const { pretext, body } = splitPretext(msg.text);
  const plainText = pretext === undefined ? toPlain(body) : `${toPlain(pretext)}\n${toPlain(body)}`.trim();
  const colour = msg.extra ? cssColor(attachmentColor(msg.extra, body, { failure: FAILURE_COLOR })) : undefined;
  let html = toHtml(body);
  if (colour) html = `<blockquote><font color="${colour}" data-mx-color="${colour}">▌</font>${html}</blockquote>`;
  if (pretext) html = `${toHtml(pretext)}${html}`;
  const content: Record<string, unknown> = { msgtype: msgtypeOf(msg.extra), body: plainText || " " };
  // An HTML copy only when it says more than the text (keeps small acks small on the wire).
  if (html !== `<p>${escapeHtml(plainText)}</p>`) {
    content.format = "org.matrix.custom.html";
    content.formatted_body = html;
  }
  content["m.mentions"] = { user_ids: mentionedUsers(plainText) };
  return content;
}

/** A reply in thread `root` (with the fallback older clients show as a reply). */
export function inThread(content: Record<string, unknown>, root: string): Record<string, unknown> {
  return { ...content, "m.relates_to": { rel_type: "m.thread", event_id: root, is_falling_back: true, "m.in_reply_to": { event_id: root } } };
}

/**
 * An edit (`m.replace`) of event `original` to say `content` instead: the new content under
 * `m.new_content`, a `* ` fallback for clients without edits, and no mentions (an edit that
 * names someone must not ping them again on every update of live output).
 */
export function asEdit(content: Record<string, unknown>, original: string): Record<string, unknown> {
  const fresh = { ...content, "m.mentions": {} };
  const fallback: Record<string, unknown> = { ...fresh, body: `* ${String(content.body)}` };
  if (typeof content.formatted_body === "string") fallback.formatted_body = `* ${content.formatted_body}`;
  return { ...fallback, "m.new_content": fresh, "m.relates_to": { rel_type: "m.replace", event_id: original } };
}
