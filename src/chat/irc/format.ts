/**
 * Outgoing text for IRC: the Slack/Markdown-flavoured text StackStorm templates use, rendered
 * with IRC formatting codes where they help (`**bold**` in bold, `extra.color` as the nearest
 * mIRC colour) and plain otherwise (code fences dropped with the code kept verbatim, links as
 * `label (url)`). Control characters a relayed line could abuse are removed: NUL/CR (they end
 * a line on some servers) and \x01 (it would turn the text into a CTCP request).
 */
import type { Outgoing } from "../types.ts";
import { flattenMarkup, outsideFences } from "../plain.ts";

/** The 16 colours every IRC client shows (mIRC's palette), index = colour code. */
const PALETTE: ReadonlyArray<readonly [number, number, number]> = [
  [255, 255, 255], [0, 0, 0], [0, 0, 127], [0, 147, 0], [255, 0, 0], [127, 0, 0], [156, 0, 156], [252, 127, 0],
  [255, 255, 0], [0, 252, 0], [0, 147, 147], [0, 255, 255], [0, 0, 252], [255, 0, 255], [127, 127, 127], [210, 210, 210],
];

/** Slack's named attachment colours (StackStorm packs put them in `extra`) and a few CSS names. */
const NAMED: Record<string, number> = { good: 3, warning: 7, danger: 4, green: 3, red: 4, orange: 7, yellow: 8, blue: 12, purple: 6, grey: 14, gray: 14 };

/**
 * The mIRC colour code `extra` asks for (`extra.color`, or `extra.slack.color` from Slack-first
 * packs): a named colour, or the palette entry nearest a `#rrggbb`; undefined otherwise. White
 * and black are never chosen (invisible on one background or the other).
 */
export function ircColor(extra: Record<string, unknown> | undefined): number | undefined {
  const slack = extra?.slack;
  const raw = extra?.color ?? (slack && typeof slack === "object" ? (slack as Record<string, unknown>).color : undefined);
  if (typeof raw !== "string") return undefined;
  const value = raw.trim().toLowerCase();
  if (value in NAMED) return NAMED[value];
  const hex = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/.exec(value)?.[1];
  if (!hex) return undefined;
  const full = hex.length === 3 ? [...hex].map((c) => c + c).join("") : hex;
  const rgb = [0, 2, 4].map((i) => Number.parseInt(full.slice(i, i + 2), 16));
  let best = 3;
  let bestDistance = Infinity;
  PALETTE.forEach(([r, g, b], code) => {
    if (code < 2) return;
    const d = (r - rgb[0]!) ** 2 + (g - rgb[1]!) ** 2 + (b - rgb[2]!) ** 2;
    if (d < bestDistance) [best, bestDistance] = [code, d];
  });
  return best;
}

/** Text a relayed line must not carry: NUL, CR, CTCP's \x01, and other C0 controls but tab, LF and formatting. */
const UNSAFE = /[\0\x01\x04-\x08\x0b-\x0e\x10\x12-\x15\x17-\x1c\x7f]/g;

/** Removes what must not reach the wire (see UNSAFE), keeping line breaks. */
export function sanitize(text: string): string {
  return text
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .map((l) => l.replace(UNSAFE, "").replace(/\t/g, "    "))
    .join("\n");
}

/** `msg` as IRC text (lines still joined by `\n`; lines.ts splits them). */
export function renderIrc(msg: Outgoing): string {
  const color = ircColor(msg.extra);
  const lines = outsideFences(sanitize(msg.text), (line) => flattenMarkup(line, (bold) => `\x02${bold}\x02`));
  // Colour is per line on IRC: every relayed line starts without formatting.
  return lines.map((body) => (color !== undefined && body.trim() !== "" ? `\x03${String(color).padStart(2, "0")}${body}` : body)).join("\n");
}
