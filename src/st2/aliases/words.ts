/**
 * Whitespace and words as Python sees them (`str.isspace`, `str.split()`), which is what
 * StackStorm's `strip()` and `\s` use; JavaScript's idea of whitespace differs slightly.
 */

const PY_SPACE_CPS = [0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000];
for (let c = 0x2000; c <= 0x200a; c++) PY_SPACE_CPS.push(c);

/** Python whitespace as a set of characters (all in the BMP), for fast scanning. */
export const PY_SPACE: ReadonlySet<string> = new Set(PY_SPACE_CPS.map((c) => String.fromCharCode(c)));

/** Whether a code point is Python whitespace. */
export function isSpaceCp(cp: number): boolean {
  return cp <= 0xffff && PY_SPACE.has(String.fromCharCode(cp));
}

/** Whether `s.strip()` is empty in Python. */
export function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!PY_SPACE.has(s[i] ?? "")) return false;
  return true;
}

/** All whitespace-separated words (Python's whitespace). */
export function splitWords(s: string): string[] {
  const words: string[] = [];
  let start = -1;
  for (let i = 0; i <= s.length; i++) {
    const ch = s[i];
    const space = ch === undefined || PY_SPACE.has(ch);
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
  while (start < end && PY_SPACE.has(s[start] ?? "")) start++;
  while (end > start && PY_SPACE.has(s[end - 1] ?? "")) end--;
  return s.slice(start, end);
}

/** `" ".join(s.split())` in Python: runs of Python whitespace become one space, ends stripped. */
export function collapseSpace(s: string): string {
  return splitWords(s).join(" ");
}
