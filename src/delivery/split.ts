/**
 * Splits a long message into parts a chat service accepts, keeping code fences readable:
 * a part that ends inside a ``` block closes it, and the next part reopens it with the same
 * info string. Lengths are UTF-16 code units (JavaScript string length), which never
 * undercounts a service's character limit.
 */

/** One part and where its body came from in the original text. */
export interface SplitPart {
  /** What is sent: `prefix + text.slice(start, end) + suffix`. */
  text: string;
  start: number;
  end: number;
  /** The fence reopened at the start of this part ("" when none). */
  prefix: string;
  /** The fence closed at the end of this part ("" when none). */
  suffix: string;
}

/** CommonMark: an opening backtick fence's info string has no backticks; a closing fence has none. */
const OPEN_FENCE = /^ {0,3}(`{3,})([^`]*)$/;
const CLOSE_FENCE = /^ {0,3}(`{3,})\s*$/;
/** Below this limit fences are not rebalanced: the wrappers would leave no room for content. */
const MIN_FENCED_LIMIT = 16;

/** An open code block: its backtick run and info string, to close and reopen it alike. */
interface Fence {
  ticks: string;
  info: string;
}

interface Line {
  start: number;
  end: number;
}

function linesOf(text: string): Line[] {
  const lines: Line[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf("\n", start);
    if (nl < 0) {
      lines.push({ start, end: text.length });
      return lines;
    }
    lines.push({ start, end: nl });
    start = nl + 1;
  }
}

/** The fence state after `line`: the open block, or undefined when outside one. */
function fenceAfter(text: string, line: Line, open: Fence | undefined): Fence | undefined {
  const c = text.charCodeAt(line.start);
  if (c !== 32 && c !== 96) return open;
  const content = text.slice(line.start, line.end);
  if (open) {
    const m = CLOSE_FENCE.exec(content);
    return m && m[1]!.length >= open.ticks.length ? undefined : open;
  }
  const m = OPEN_FENCE.exec(content);
  return m ? { ticks: m[1]!, info: m[2]!.trim() } : undefined;
}

/** True when a part starting at `pos` would begin with what chat renders as a fence. */
const looksLikeFence = (text: string, pos: number): boolean => /^ {0,3}```/.test(text.slice(pos, pos + 6));

/** `cut` moved back one unit when it would fall between the halves of a surrogate pair. */
function whole(text: string, cut: number): number {
  const code = text.charCodeAt(cut - 1);
  return code >= 0xd800 && code <= 0xdbff ? cut - 1 : cut;
}

/** An index at most `max` (≥ 2) past `start` that does not cut a surrogate pair, preferring a space. */
function hardCut(text: string, start: number, max: number): number {
  let cut = whole(text, start + max);
  const space = text.lastIndexOf(" ", cut - 1);
  if (space >= start + Math.floor(max / 2)) cut = space + 1;
  // Never leave a fence-like run of backticks at the start of the next part.
  while (looksLikeFence(text, cut)) {
    const back = whole(text, cut - 1);
    if (back <= start) break;
    cut = back;
  }
  return cut;
}

/**
 * Splits `text` into parts of at most `limit` characters: at line boundaries (the newline between
 * two parts is dropped), an over-long line hard (at a space when one is in its second half,
 * never inside a surrogate pair). Fences stay balanced in every part. Whitespace-only parts are
 * dropped, so there is never an empty part; an empty or blank text yields []. A block left
 * open at the end of the text is closed in the last part. Two pathological cases may stay
 * unbalanced when a line must itself be cut: a line that starts with ``` but is no fence
 * (backticks later on it), and a run of backticks about as long as a part.
 */
export function splitMessage(text: string, limit: number): string[] {
  // The usual message fits whole: the same answer without building its parts.
  if (text.length <= limit && limit >= 2 && Number.isFinite(limit)) return text.trim() === "" ? [] : [text];
  return splitMessageParts(text, limit).map((p) => p.text);
}

/** `splitMessage` with each part's origin, for callers and tests that check content is kept. */
export function splitMessageParts(text: string, limit: number): SplitPart[] {
  if (!Number.isFinite(limit) || limit < 2) throw new RangeError(`split limit must be at least 2, got ${limit}`);
  if (text.trim() === "") return [];
  if (text.length <= limit) return [{ text, start: 0, end: text.length, prefix: "", suffix: "" }];
  return new Splitter(text, Math.floor(limit)).run();
}

class Splitter {
  private readonly parts: SplitPart[] = [];
  private readonly fenced: boolean;
  /** Current part: body range and the fence state at its start and at its end. */
  private start = -1;
  private end = -1;
  private openAtStart: Fence | undefined;
  private open: Fence | undefined;

  constructor(
    private readonly text: string,
    private readonly limit: number,
  ) {
    this.fenced = limit >= MIN_FENCED_LIMIT;
  }

  run(): SplitPart[] {
    for (const line of linesOf(this.text)) this.addLine(line);
    this.flush();
    return this.parts;
  }

  private prefixFor(open: Fence | undefined): string {
    if (!this.fenced || open === undefined) return "";
    const full = open.ticks + open.info + "\n";
    // A huge info string must not eat the part: reopen without it.
    return full.length + open.ticks.length + 1 <= this.limit / 2 ? full : "```\n";
  }

  private suffixFor(open: Fence | undefined): string {
    if (!this.fenced || open === undefined) return "";
    return open.ticks.length + 1 <= this.limit / 4 ? "\n" + open.ticks : "\n```";
  }

  private size(start: number, end: number, openAtEnd: Fence | undefined): number {
    return this.prefixFor(this.openAtStart).length + (end - start) + this.suffixFor(openAtEnd).length;
  }

  private addLine(line: Line): void {
    const after = fenceAfter(this.text, line, this.open);
    if (this.start >= 0 && this.size(this.start, line.end, after) <= this.limit) {
      this.end = line.end;
      this.open = after;
      return;
    }
    this.flush();
    this.begin(line.start);
    if (this.size(line.start, line.end, after) <= this.limit) {
      this.end = line.end;
      this.open = after;
      return;
    }
    this.splitLongLine(line, after);
  }

  /** Emits hard-cut chunks of a line too long for one part; its tail stays in the current part. */
  private splitLongLine(line: Line, after: Fence | undefined): void {
    let pos = line.start;
    for (;;) {
      if (this.size(pos, line.end, after) <= this.limit) {
        this.end = line.end;
        this.open = after;
        return;
      }
      const room = this.limit - this.prefixFor(this.openAtStart).length - this.suffixFor(this.open).length;
      const cut = hardCut(this.text, pos, Math.max(2, room));
      this.end = cut;
      this.flush();
      this.begin(cut);
      pos = cut;
    }
  }

  private begin(start: number): void {
    this.start = start;
    this.end = start;
    this.openAtStart = this.open;
  }

  private flush(): void {
    if (this.start < 0) return;
    const body = this.text.slice(this.start, this.end);
    if (body.trim() !== "") {
      const prefix = this.prefixFor(this.openAtStart);
      const suffix = this.suffixFor(this.open);
      this.parts.push({ text: prefix + body + suffix, start: this.start, end: this.end, prefix, suffix });
    }
    this.start = -1;
  }
}
