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

const FENCE = /^ {0,3}```/;
const CLOSE = "\n```";
/** Below this limit fences are not rebalanced: the wrappers would leave no room for content. */
const MIN_FENCED_LIMIT = 16;

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

/** The fence state after `line`: the open block's info string, or undefined when outside. */
function fenceAfter(text: string, line: Line, open: string | undefined): string | undefined {
  if (text.charCodeAt(line.start) !== 32 && text.charCodeAt(line.start) !== 96) return open;
  const content = text.slice(line.start, Math.min(line.end, line.start + 3 + 256));
  if (!FENCE.test(content)) return open;
  if (open !== undefined) return undefined;
  return text.slice(line.start, line.end).trim().replace(/^`+/, "").trim();
}

/** An index at most `max` into `text` (from `start`) that does not cut a surrogate pair, preferring a space. */
function hardCut(text: string, start: number, max: number): number {
  let cut = start + max;
  const space = text.lastIndexOf(" ", cut - 1);
  if (space >= start + Math.floor(max / 2)) cut = space + 1;
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff && cut - 1 > start) cut--;
  return cut;
}

/**
 * Splits `text` into parts of at most `limit` characters: at line boundaries (the newline between
 * two parts is dropped), an over-long line hard (at a space when one is in its second half,
 * never inside a surrogate pair). Fences stay balanced in every part. Whitespace-only parts are
 * dropped, so there is never an empty part; an empty or blank text yields [].
 */
export function splitMessage(text: string, limit: number): string[] {
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
  private openAtStart: string | undefined;
  private open: string | undefined;

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

  private prefixFor(open: string | undefined): string {
    if (!this.fenced || open === undefined) return "";
    const full = "```" + open + "\n";
    // A huge info string must not eat the part: reopen without it.
    return full.length + CLOSE.length <= this.limit / 2 ? full : "```\n";
  }

  private suffixFor(open: string | undefined): string {
    return this.fenced && open !== undefined ? CLOSE : "";
  }

  private size(start: number, end: number, openAtEnd: string | undefined): number {
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
  private splitLongLine(line: Line, after: string | undefined): void {
    let pos = line.start;
    for (;;) {
      if (this.size(pos, line.end, after) <= this.limit) {
        this.end = line.end;
        this.open = after;
        return;
      }
      const room = this.limit - this.prefixFor(this.openAtStart).length - this.suffixFor(this.open).length;
      const cut = hardCut(this.text, pos, Math.max(1, room));
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
