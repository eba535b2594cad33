/**
 * Whitespace and words as Python sees them (`str.isspace`, `str.split()`), which is what
 * StackStorm's `strip()` and `\s` use; JavaScript's idea of whitespace differs slightly.
 */

const PY_SPACE_CPS = [0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000];
for (let c = 0x2000; c <= 0x200a; c++) PY_SPACE_CPS.push(c);

/** Python whitespace as a set of characters (all in the BMP), for fast scanning. */
export const PY_SPACE: ReadonlySet<string> = new Set(PY_SPACE_CPS.map((c) => String.fromCharCode(c)));

/**
 * Python whitespace by UTF-16 unit (all of it is in the BMP), for the per-character scans of
 * every chat command: a typed-array read costs a fraction of a one-character string's Set lookup.
 */
const SPACE_UNITS = new Uint8Array(0x3001);
for (const c of PY_SPACE_CPS) SPACE_UNITS[c] = 1;

/** Whether the UTF-16 unit `c` (`s.charCodeAt(i)`) is Python whitespace; NaN (past the end) is not. */
export function isSpaceUnit(c: number): boolean {
  return SPACE_UNITS[c] === 1;
}

/** Whether a code point is Python whitespace. */
export function isSpaceCp(cp: number): boolean {
  return SPACE_UNITS[cp] === 1;
}

/** The index of the first Python whitespace unit in `s`, or -1 (`s.search(/[PY_SPACE_CLASS]/)` without a regex). */
export function indexOfSpace(s: string): number {
  for (let i = 0; i < s.length; i++) if (SPACE_UNITS[s.charCodeAt(i)] === 1) return i;
  return -1;
}

/** Whether `s.strip()` is empty in Python. */
export function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (SPACE_UNITS[s.charCodeAt(i)] !== 1) return false;
  return true;
}

/** All whitespace-separated words (Python's whitespace). */
export function splitWords(s: string): string[] {
  const words: string[] = [];
  let start = -1;
  for (let i = 0; i <= s.length; i++) {
    const space = i === s.length || SPACE_UNITS[s.charCodeAt(i)] === 1;
    if (space && start >= 0) {
      words.push(s.slice(start, i));
      start = -1;
    } else if (!space && start < 0) start = i;
  }
  return words;
}

/** Whether `text` contains every literal, in order and without overlap. */
export function containsInOrder(text: string, literals: readonly string[]): boolean {
  let from = 0;
  for (const literal of literals) {
    const at = text.indexOf(literal, from);
    if (at < 0) return false;
    from = at + literal.length;
  }
  return true;
}

/** Python's whitespace as the body of a RegExp character class (for the `u` flag or not). */
export const PY_SPACE_CLASS = PY_SPACE_CPS.slice()
  .sort((a, b) => a - b)
  .map((c) => `\\u${c.toString(16).padStart(4, "0")}`)
  .join("");

/** `s.strip()` in Python: Python whitespace removed at both ends (JS `trim` uses another set). */
export function pyStrip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && SPACE_UNITS[s.charCodeAt(start)] === 1) start++;
  while (end > start && SPACE_UNITS[s.charCodeAt(end - 1)] === 1) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/** `" ".join(s.split())` in Python: runs of Python whitespace become one space, ends stripped. */
export function collapseSpace(s: string): string {
  return isCollapsed(s) ? s : splitWords(s).join(" ");
}

/** Whether `s` is already collapsed (the common case: a command as typed): single spaces between words, none at the ends. */
function isCollapsed(s: string): boolean {
  let prevSpace = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (SPACE_UNITS[c] !== 1) prevSpace = false;
    else if (c !== 0x20 || prevSpace) return false;
    else prevSpace = true;
  }
  return !prevSpace || s.length === 0;
}
