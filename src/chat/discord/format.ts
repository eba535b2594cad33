/**
 * An outgoing message → the body of `POST /channels/{id}/messages`. Text stays Discord Markdown
 * (Slack-style `<url|label>` links become `[label](url)`); `extra` becomes one embed: colour from
 * `extra.color` (or red for a failed execution), and `extra.discord` (an embed's own fields, or
 * `embeds`), else hubot-stackstorm's `extra.slack` attachment fields (title, fields, footer…)
 * mapped onto an embed. Mentions never ping anyone but the person the message addresses first
 * (`<@id>: …`, how a result names who asked): no @everyone, @here or role ping from a result.
 */
import type { APIAllowedMentions, APIEmbed, APIEmbedField } from "discord-api-types/v10";
import { attachmentColor, splitPretext } from "../attachments.ts";
import type { Outgoing } from "../types.ts";
import { isRecord } from "../../lib/json.ts";

/** Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits). */
export const LIMITS = { content: 2000, title: 256, description: 4096, fields: 25, fieldName: 256, fieldValue: 1024, footer: 2048, author: 256, embeds: 10, total: 6000 } as const;

/** The colour of a failed execution when the announcement names none (Discord's red). */
export const FAILURE_COLOR = 0xed4245;

/** The message body st2bot sends (nonce and message_reference are added by the sender). */
export interface MessageBody {
  content: string;
  embeds?: APIEmbed[];
  allowed_mentions: APIAllowedMentions;
}

const NAMED: Record<string, number> = { good: 0x2eb886, warning: 0xdaa038, danger: 0xd24b4e, red: 0xff0000, green: 0x008000, yellow: 0xffa500, blue: 0x0000ff, white: 0xffffff, cyan: 0x00ffff };

/** `#rrggbb`, `rrggbb`, a number, or a Slack/Errbot colour name → Discord's integer colour. */
export function colorValue(color: unknown): number | undefined {
  if (typeof color === "number" && Number.isInteger(color) && color >= 0 && color <= 0xffffff) return color;
  if (typeof color !== "string") return undefined;
  const named = NAMED[color.toLowerCase()];
  if (named !== undefined) return named;
  const hex = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/i.exec(color.trim());
  if (!hex) return undefined;
  const h = hex[1]!.length === 3 ? [...hex[1]!].map((c) => c + c).join("") : hex[1]!;
  return Number.parseInt(h, 16);
}

const cut = (s: unknown, max: number): string | undefined => {
  if (typeof s !== "string" && typeof s !== "number") return undefined;
  const text = String(s);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
};

/** Slack's `<https://x|label>` and `<https://x>` → Markdown links; mentions (`<@…>`, `<#…>`) stay. */
export function toDiscordMarkdown(text: string): string {
  return text.replace(/<((?:https?|mailto):[^|>\s]+)(?:\|([^>]+))?>/g, (_, url: string, label?: string) => (label ? `[${label}](${url})` : url));
}

/**
 * `text` with Markdown links, unless that pushes it past 2,000 characters (`[l](u)` is one longer
 * than `<u|l>`, and the outbox split the text to exactly the limit): then as it came.
 */
function fitting(text: string): string {
  const converted = toDiscordMarkdown(text);
  return converted.length <= LIMITS.content ? converted : text;
}

/** The one user a message may ping: the mention it opens with (`<@123>: done`), if any. */
export function addressee(text: string): string | undefined {
  return /^\s*<@!?(\d{15,21})>/.exec(text)?.[1];
}

/** Embed fields from Discord's own shape or Slack's `{title, value, short}`. */
function fieldsOf(list: unknown): APIEmbedField[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const fields = list.filter(isRecord).flatMap((f): APIEmbedField[] => {
    const name = cut(f.name ?? f.title, LIMITS.fieldName);
    const value = cut(f.value, LIMITS.fieldValue);
    if (!name || !value) return []; // Discord refuses empty names and values
    return [{ name, value, ...(f.inline !== undefined || f.short !== undefined ? { inline: Boolean(f.inline ?? f.short) } : {}) }];
  });
  return fields.length ? fields.slice(0, LIMITS.fields) : undefined;
}

/** One embed from a Discord embed or a Slack attachment (only the fields Discord has). */
function embedFrom(src: Record<string, unknown>, body: string | undefined, color: number | undefined): APIEmbed {
  const footer = isRecord(src.footer) ? cut(src.footer.text, LIMITS.footer) : cut(src.footer, LIMITS.footer);
  const author = isRecord(src.author) ? cut(src.author.name, LIMITS.author) : cut(src.author_name, LIMITS.author);
  const image = isRecord(src.image) ? src.image.url : src.image_url;
  const thumb = isRecord(src.thumbnail) ? src.thumbnail.url : src.thumb_url;
  const description = cut(src.description ?? src.text ?? body, LIMITS.description);
  const embed: APIEmbed = {
    ...(cut(src.title, LIMITS.title) ? { title: cut(src.title, LIMITS.title)! } : {}),
    ...(typeof (src.url ?? src.title_link) === "string" ? { url: String(src.url ?? src.title_link) } : {}),
    ...(description ? { description: toDiscordMarkdown(description) } : {}),
    ...((colorValue(src.color) ?? color) !== undefined ? { color: colorValue(src.color) ?? color! } : {}),
    ...(fieldsOf(src.fields) ? { fields: fieldsOf(src.fields)! } : {}),
    ...(footer ? { footer: { text: footer } } : {}),
    ...(author ? { author: { name: author } } : {}),
    ...(typeof image === "string" ? { image: { url: image } } : {}),
    ...(typeof thumb === "string" ? { thumbnail: { url: thumb } } : {}),
    ...(typeof src.timestamp === "string" ? { timestamp: src.timestamp } : {}),
  };
  return embed;
}

/** Drops trailing embeds until the 6,000-character total fits (Discord refuses the whole message otherwise). */
function withinTotal(embeds: APIEmbed[]): APIEmbed[] {
  const size = (e: APIEmbed) =>
    (e.title?.length ?? 0) + (e.description?.length ?? 0) + (e.footer?.text.length ?? 0) + (e.author?.name.length ?? 0) +
    (e.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0);
  const out: APIEmbed[] = [];
  let total = 0;
  for (const e of embeds.slice(0, LIMITS.embeds)) {
    total += size(e);
    if (total > LIMITS.total) break;
    out.push(e);
  }
  return out;
}

/**
 * Turns text + `extra` into a message body: plain Markdown unless the announcement asks for an
 * embed (`extra.discord`, `extra.slack`, `extra.color`) or reports a failed execution. With an
 * embed, the `{~}` pretext (or nothing) is the content and the rest the embed's description.
 */
export function formatMessage(msg: Outgoing): MessageBody {
  const user = addressee(msg.text);
  const allowed_mentions: APIAllowedMentions = { parse: [], ...(user ? { users: [user] } : {}), replied_user: false };
  const own = isRecord(msg.extra?.discord) ? msg.extra.discord : undefined;
  const slack = isRecord(msg.extra?.slack) ? msg.extra.slack : undefined;
  const hex = attachmentColor(msg.extra, msg.text, { failure: "#ed4245" });
  const color = colorValue(hex);
  const { pretext, body } = splitPretext(msg.text);
  const plain = fitting(pretext ? `${pretext}\n${body}` : body);
  if (!own && !slack && color === undefined) return { content: plain, allowed_mentions };
  if (own && Array.isArray(own.embeds)) {
    const embeds = withinTotal(own.embeds.filter(isRecord).map((e) => embedFrom(e, undefined, color)));
    // The announcement brings its own embeds; the text goes in the content as it is.
    if (embeds.length) return { content: plain, embeds, allowed_mentions };
    return { content: plain, allowed_mentions };
  }
  const source = { ...(slack ?? {}), ...(own ?? {}) };
  const embeds = withinTotal([embedFrom(source, body, color)]);
  return { content: fitting(pretext ?? ""), embeds, allowed_mentions };
}
