/**
 * IRC lines: at most 512 bytes each including the prefix the server puts in front when it
 * relays them (`:nick!user@host PRIVMSG #chan :text\r\n`). Text is split on that byte budget,
 * at a space where one fits, never inside a character (grapheme clusters stay whole unless one
 * alone is too long, then code points do), and never inside a formatting code; the formatting
 * active at a split is opened again at the start of the next line.
 */

const encoder = new TextEncoder();
/** UTF-8 length of `s`. */
export const byteLength = (s: string): number => encoder.encode(s).length;

/** RFC 1459/2812: a whole message, CR-LF included. */
export const IRC_LINE_BYTES = 512;
/** The longest user name most servers keep (USERLEN 10), plus the `~` of a failed ident. */
const WORST_USER = 11;
/** The longest host name (HOSTLEN 63): cloaks and DNS names both fit. */
const WORST_HOST = 63;

/** What the server will show as the bot's mask; unknown parts are assumed as long as allowed. */
export interface OwnMask {
  nick: string;
  user?: string;
  host?: string;
}

/** Bytes left for the text of a PRIVMSG to `target` once relayed with `mask`'s prefix. */
export function textBudget(mask: OwnMask, target: string): number {
  const user = mask.user ? byteLength(mask.user) : WORST_USER;
  const host = mask.host ? byteLength(mask.host) : WORST_HOST;
  const overhead = byteLength(`:${mask.nick}!@ PRIVMSG ${target} :\r\n`) + user + host;
  return IRC_LINE_BYTES - overhead;
}

/** One unit that must never be cut: a formatting code with its digits, or a grapheme. */
type Atom = { text: string; bytes: number; code: boolean; space: boolean };

/** The longest formatting opener: a colour with background, then bold, italic, underline, ... */
const MAX_OPENER = 12;
const FORMAT = /^(?:\x03(?:\d{1,2}(?:,\d{1,2})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f])/;
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

function atomsOf(line: string, budget: number): Atom[] {
  const atoms: Atom[] = [];
  let i = 0;
  while (i < line.length) {
    const code = FORMAT.exec(line.slice(i, i + 6));
    if (code) {
      atoms.push({ text: code[0], bytes: byteLength(code[0]), code: true, space: false });
      i += code[0].length;
      continue;
    }
    let j = i;
    while (j < line.length && !FORMAT.test(line.slice(j, j + 6))) j++;
    for (const { segment } of segmenter.segment(line.slice(i, j))) {
      const bytes = byteLength(segment);
      // A grapheme that cannot fit on a line with a formatting opener (combining-mark spam)
      // falls back to code points.
      const parts = bytes > budget - MAX_OPENER ? [...segment] : [segment];
      for (const p of parts) atoms.push({ text: p, bytes: byteLength(p), code: false, space: p === " " });
    }
    i = j;
  }
  return atoms;
}

/** The formatting in force after `codes`, as the codes that open it again. */
class FormatState {
  private toggles = new Set<string>();
  private color = "";

  apply(code: string): void {
    if (code === "\x0f") {
      this.toggles.clear();
      this.color = "";
    } else if (code.startsWith("\x03")) {
      this.color = code.length > 1 ? code : "";
    } else if (this.toggles.has(code)) this.toggles.delete(code);
    else this.toggles.add(code);
  }

  /** Codes that reopen the state; a bare colour gets its digits padded so a following digit stays text. */
  opener(): string {
    return (this.color ? padColor(this.color) : "") + [...this.toggles].join("");
  }
}

const padColor = (code: string) => code.replace(/^\x03(\d{1,2})(?:,(\d{1,2}))?$/, (_, fg: string, bg?: string) => `\x03${fg.padStart(2, "0")}${bg ? `,${bg.padStart(2, "0")}` : ""}`);

/**
 * Splits `text` into IRC lines of at most `budget` bytes: one per line of text (empty ones
 * dropped, IRC cannot send them), long ones cut at the last space that fits, else between
 * graphemes. `budget` must leave room for the longest formatting opener (about 10 bytes).
 */
export function splitLines(text: string, budget: number): string[] {
  if (budget < 16) throw new RangeError(`an IRC line budget of ${budget} bytes is too small`);
  const out: string[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    out.push(...splitOne(line, budget));
  }
  return out;
}

function splitOne(line: string, budget: number): string[] {
  if (byteLength(line) <= budget) return [line];
  const atoms = atomsOf(line, budget);
  const out: string[] = [];
  const state = new FormatState();
  let i = 0;
  while (i < atoms.length) {
    const opener = state.opener();
    let bytes = byteLength(opener);
    let end = i;
    let lastSpace = -1;
    while (end < atoms.length && bytes + atoms[end]!.bytes <= budget) {
      if (atoms[end]!.space) lastSpace = end;
      bytes += atoms[end]!.bytes;
      end++;
    }
    // Break after the last space when it keeps at least half the line; else cut where it is full.
    if (end < atoms.length && lastSpace > i && lastSpace - i >= (end - i) / 2) end = lastSpace + 1;
    if (end === i) end = i + 1; // one atom larger than the budget cannot happen (see atomsOf); never loop
    const piece = atoms.slice(i, end);
    for (const a of piece) if (a.code) state.apply(a.text);
    // A continuation starts at a word, not at the space the cut came before.
    const joined = piece.map((a) => a.text).join("");
    const body = i > 0 ? joined.replace(/^((?:\x03(?:\d{1,2}(?:,\d{1,2})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f])*) +/, "$1") : joined;
    if (body.trim() !== "" || piece.some((a) => a.code)) out.push(opener + body.replace(/ +$/, ""));
    i = end;
  }
  return out.filter((l) => l.replace(FORMAT_ALL, "").trim() !== "");
}

const FORMAT_ALL = /\x03(?:\d{1,2}(?:,\d{1,2})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g;
