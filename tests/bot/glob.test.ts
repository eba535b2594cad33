/**
 * The ACL's glob without a regex: the same answers as the fnmatch-to-regex translation it
 * replaces (kept below as the oracle) on generated patterns and texts, and time that does not
 * explode on a pattern with several stars against long text a chat user controls.
 */
import { describe, expect, test } from "bun:test";
import { glob } from "../../src/bot/acl.ts";
import { Rng } from "../support/prng.ts";

// ---- The oracle: the regex translation before the change ----
function oldGlob(text: string, pattern: string, caseSensitive = true): boolean {
  const t = caseSensitive ? text : text.toLowerCase();
  const p = caseSensitive ? pattern : pattern.toLowerCase();
  return new RegExp(`^${translate(p)}$`, "su").test(t);
}
function translate(pattern: string): string {
  const chars = Array.from(pattern);
  let out = "";
  let i = 0;
  while (i < chars.length) {
    const c = chars[i++]!;
    if (c === "*") {
      if (!out.endsWith("[^]*")) out += "[^]*";
    } else if (c === "?") {
      out += "[^]";
    } else if (c === "[") {
      let j = i;
      if (chars[j] === "!") j++;
      if (chars[j] === "]") j++;
      while (j < chars.length && chars[j] !== "]") j++;
      if (j >= chars.length) out += "\\[";
      else {
        out += charClass(chars.slice(i, j));
        i = j + 1;
      }
    } else out += /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
  }
  return out;
}
function charClass(body: string[]): string {
  const negate = body[0] === "!";
  const items = negate ? body.slice(1) : body;
  const esc = (ch: string) => (/[\\\][^-]/.test(ch) ? `\\${ch}` : ch);
  let cls = "";
  for (let k = 0; k < items.length; k++) {
    const lo = items[k]!;
    const hi = items[k + 2];
    if (items[k + 1] === "-" && hi !== undefined) {
      if (lo.codePointAt(0)! <= hi.codePointAt(0)!) cls += `${esc(lo)}-${esc(hi)}`;
      k += 2;
    } else cls += esc(lo);
  }
  if (cls === "") return negate ? "[^]" : "(?!)";
  return negate ? `[^${cls}]` : `[${cls}]`;
}
// ---- end of the oracle ----

describe("glob", () => {
  test("20,000 generated pattern/text pairs agree with the regex translation", () => {
    const rng = new Rng(4242);
    const P = ["a", "b", "A", "*", "*", "?", "[", "]", "!", "-", "^", "\\", ".", "é", "😀", " ", "\n", "[a-b]", "[!a]", "[b-a]", "[]]"];
    const T = ["a", "b", "A", "B", "-", "!", "]", "[", "^", ".", "é", "É", "😀", " ", "\n"];
    for (let i = 0; i < 20000; i++) {
      let pattern = "";
      for (let n = rng.int(7); n > 0; n--) pattern += rng.pick(P);
      let text = "";
      for (let n = rng.int(8); n > 0; n--) text += rng.pick(T);
      const cs = rng.chance(0.5);
      expect({ pattern, text, cs, got: glob(text, pattern, cs) }).toEqual({ pattern, text, cs, got: oldGlob(text, pattern, cs) });
    }
  });

  test("several stars against long user text stay proportional to the text", () => {
    const text = "st2 " + "a".repeat(8000);
    const time = (fn: () => void) => {
      const started = performance.now();
      fn();
      return performance.now() - started;
    };
    // Baseline: a one-star pattern over the same text, measured here.
    const base = Math.max(time(() => glob(text, "st2 *", false)), 0.05);
    const many = time(() => glob(text, "st2 *a*a*a*a*b", false));
    expect(glob(text, "st2 *a*a*a*a*b", false)).toBe(false);
    // The regex translation is O(n^5) here: 200 characters took 4 s, 8,000 would take years.
    expect(many).toBeLessThan(base * 2000);
  });
});
