/**
 * The output of one followed execution, as much of it as chat can use: its length so far and
 * its last KEEP characters (the live message shows a tail of it; a sequence sends what is new).
 */

/** Characters of output kept in memory per followed execution. */
export const KEEP = 64 * 1024;

/** A stretch of output and how many characters before it are not in it. */
export interface Slice {
  text: string;
  skipped: number;
}

/** The output produced so far (see the file comment). */
export class OutputBuffer {
  /** Characters ever produced, kept or not. */
  total = 0;
  private kept = "";

  /** Adds a piece (an `st2.execution.output__create` event's `data`). */
  append(data: string): void {
    this.total += data.length;
    this.kept = this.kept.length + data.length > KEEP ? (this.kept + data).slice(-KEEP) : this.kept + data;
  }

  /** Replaces everything with `text`: a catch-up read is the whole output so far. */
  reset(text: string): void {
    this.total = text.length;
    this.kept = text.slice(-KEEP);
  }

  /** The output from character `from` on, as far as it is kept (what is not counts as skipped). */
  since(from: number): Slice {
    const start = this.total - this.kept.length;
    if (from >= start) return { text: this.kept.slice(from - start), skipped: 0 };
    return { text: this.kept, skipped: start - from };
  }

  /**
   * The last `max` characters or fewer, starting at a line where one starts within the first
   * fifth (a cut mid-line reads worse than a slightly shorter tail); `skipped` counts the rest.
   */
  tail(max: number): Slice {
    return tailOf(this.kept, max, this.total - this.kept.length);
  }
}

/** `tail` of a string whose first `before` characters are gone already. */
export function tailOf(text: string, max: number, before = 0): Slice {
  if (text.length <= max) return { text, skipped: before };
  let cut = text.length - max;
  const newline = text.indexOf("\n", cut);
  if (newline >= 0 && newline + 1 < text.length && newline - cut < max / 5) cut = newline + 1;
  return { text: text.slice(cut), skipped: before + cut };
}

/**
 * The pieces that arrived on the stream while the catch-up read was under way and are not in
 * its answer. The read saw a prefix of all output, so those of the pieces it already holds
 * are a prefix of `pieces` and their concatenation ends the read's text: the longest such
 * prefix is dropped. (Output that repeats itself exactly can make this drop a piece too many;
 * StackStorm gives no sequence number to do better.)
 */
export function unseenPieces(caught: string, pieces: readonly string[]): string[] {
  for (let k = pieces.length; k > 0; k--) {
    if (caught.endsWith(pieces.slice(0, k).join(""))) return pieces.slice(k);
  }
  return [...pieces];
}
