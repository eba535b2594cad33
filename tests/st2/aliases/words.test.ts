import { describe, expect, test } from "bun:test";
import { collapseSpace, indexOfSpace, isBlank, isSpaceCp, pyStrip, PY_SPACE, PY_SPACE_CLASS, splitWords } from "../../../src/st2/aliases/words.ts";

// The plain definitions the fast scanners (a lookup table, a no-copy path for text already
// collapsed) must agree with: Python's str.split(), strip() and isspace().
const refSplit = (s: string) => s.split("").reduce<string[][]>((acc, ch) => {
  if (PY_SPACE.has(ch)) acc.push([]);
  else acc.at(-1)!.push(ch);
  return acc;
}, [[]]).map((w) => w.join("")).filter((w) => w !== "");
function refStrip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && PY_SPACE.has(s[a]!)) a++;
  while (b > a && PY_SPACE.has(s[b - 1]!)) b--;
  return s.slice(a, b);
}

describe("Python whitespace scanners", () => {
  const alphabet = ["a", "b", " ", "  ", "\t", "\n", "\u0085", "\x1c", "\u00a0", "\u2003", "\u3000", "\u200b", "é", "😀", "=", '"'];
  const strings: string[] = ["", " ", "a", "a b", " a", "a ", "a  b", "a\tb", "a\u0085b"];
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  for (let i = 0; i < 2000; i++) strings.push(Array.from({ length: rand(9) }, () => alphabet[rand(alphabet.length)]).join(""));

  test("splitWords, collapseSpace, pyStrip and isBlank agree with the plain definitions", () => {
    for (const s of strings) {
      expect(splitWords(s)).toEqual(refSplit(s));
      expect(collapseSpace(s)).toBe(refSplit(s).join(" "));
      expect(pyStrip(s)).toBe(refStrip(s));
      expect(isBlank(s)).toBe(refSplit(s).length === 0);
      expect(indexOfSpace(s)).toBe(s.search(new RegExp(`[${PY_SPACE_CLASS}]`)));
    }
  });

  test("isSpaceCp: exactly Python's whitespace code points", () => {
    for (let cp = 0; cp <= 0x10ffff; cp += cp < 0x3100 ? 1 : 997) expect(isSpaceCp(cp)).toBe(PY_SPACE.has(String.fromCodePoint(cp)));
  });
});
