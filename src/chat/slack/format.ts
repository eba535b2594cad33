/**
 * An outgoing message → chat.postMessage arguments, following hubot-stackstorm's Slack adapter
 * and err-stackstorm's: `extra.slack` holding only legacy attachment fields styles one attachment
 * that carries the text; `extra.slack.attachments`/`blocks` (or other chat.postMessage arguments)
 * are posted as given with the text as the message text; `extra.color` colours the attachment,
 * and a failed execution is coloured `danger` when nothing else says so.
 */
import * as v from "valibot";
import { logger } from "../../lib/log.ts";
import { type Attachment, attachmentColor, extraColor, isFailedExecution, splitPretext } from "../attachments.ts";
import type { Outgoing, Target } from "../types.ts";

const log = logger("chat.slack");

/** hubot-stackstorm's default attachment colours (`ST2_SLACK_SUCCESS_COLOR`/`ST2_SLACK_FAIL_COLOR`). */
export const SLACK_COLORS = { success: "#dfdfdf", failure: "danger" } as const;

/** `extra.slack` as packs write it; anything else is logged and the text goes out plain. */
const JsonObject = v.record(v.string(), v.unknown());
const SlackExtraSchema = v.looseObject({
  attachments: v.optional(v.array(JsonObject)),
  blocks: v.optional(v.array(JsonObject)),
  thread_response: v.optional(v.union([v.boolean(), v.string()])),
  thread_ts: v.optional(v.string()),
  text: v.optional(v.string()),
  pretext: v.optional(v.string()),
  color: v.optional(v.string()),
});
type SlackExtra = v.InferOutput<typeof SlackExtraSchema>;

/** Slack's legacy attachment fields: an `extra.slack` made only of these styles one attachment. */
const LEGACY_FIELDS = new Set([
  "author_icon", "author_link", "author_name", "color", "fallback", "fields", "footer", "footer_icon",
  "image_url", "mrkdwn_in", "pretext", "text", "thumb_url", "title", "title_link", "ts",
]);
/** chat.postMessage arguments a pack may set; routing keys (channel, token, as_user) never pass. */
const POST_ARGS = new Set([
  "attachments", "blocks", "icon_emoji", "icon_url", "username", "unfurl_links", "unfurl_media",
  "mrkdwn", "parse", "link_names", "reply_broadcast", "metadata",
]);
/** Our own keys inside `extra.slack`, consumed here and never sent. */
const OWN_KEYS = new Set(["thread_response", "thread_ts"]);

/**
 * Slack's plain-text escaping (`&`, `<`, `>` as entities): `<!channel>`, `<!here>`, `<@U…>`
 * and `<url|label>` then show as typed instead of pinging or linking.
 */
export function escapeText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Builds chat.postMessage arguments (without `channel`) for `msg` sent to `target`: thread,
 * then one of plain `text`, one styled attachment, or the pack's own attachments/blocks.
 */
export function buildPostArgs(target: Target, msg: Outgoing): Record<string, unknown> {
  const slack = slackExtra(msg.extra?.slack);
  const args = threadArgs(target, slack);
  const keys = Object.keys(slack).filter((k) => !OWN_KEYS.has(k));
  if (keys.some((k) => !LEGACY_FIELDS.has(k))) return { ...args, ...nativeArgs(slack, msg.text) };
  if (keys.length > 0 || extraColor(msg.extra) !== undefined || isFailedExecution(msg.text)) {
    return { ...args, attachments: [legacyAttachment(msg, slack)] };
  }
  return { ...args, text: msg.text };
}

function slackExtra(raw: unknown): SlackExtra {
  if (raw === undefined) return {};
  const parsed = v.safeParse(SlackExtraSchema, raw);
  if (parsed.success) return parsed.output;
  log.warn("extra.slack is not a Slack message shape; sending plain text", { issue: parsed.issues[0]?.message });
  return {};
}

/** `thread_ts`/`thread_response: "<ts>"` name a thread; otherwise a room reply stays in the asker's thread unless `thread_response` is false. */
function threadArgs(target: Target, slack: SlackExtra): Record<string, unknown> {
  const explicit = slack.thread_ts ?? (typeof slack.thread_response === "string" ? slack.thread_response : undefined);
  const inherited = target.kind === "room" && slack.thread_response !== false ? target.thread : undefined;
  const thread = explicit ?? inherited;
  return thread ? { thread_ts: thread } : {};
}

/** err-stackstorm's block path: the pack's arguments as given, the message as the text. */
function nativeArgs(slack: SlackExtra, text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(slack)) {
    if (POST_ARGS.has(k)) out[k] = val;
    else if (!OWN_KEYS.has(k) && k !== "text") log.debug("ignoring an extra.slack key chat.postMessage does not take", { key: k });
  }
  const body = text !== "" ? text : slack.text;
  if (body) out.text = body;
  return out;
}

/** hubot-stackstorm's attachment: colour by status, the pack's legacy fields, the text inside. */
function legacyAttachment(msg: Outgoing, slack: SlackExtra): Attachment {
  const split = splitPretext(msg.text);
  const pretext = split.pretext ?? slack.pretext;
  const attachment: Attachment = {
    color: attachmentColor(msg.extra, msg.text, SLACK_COLORS),
    mrkdwn_in: ["text", "pretext"],
    ...slack,
    text: split.body,
    fallback: split.body,
  };
  if (pretext) attachment.pretext = pretext;
  else delete attachment.pretext;
  for (const k of OWN_KEYS) delete attachment[k];
  return attachment;
}
