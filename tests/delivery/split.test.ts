import { describe, expect, test } from "bun:test";
import { splitMessage, splitMessageParts } from "../../src/delivery/split.ts";
import { Rng } from "../support/prng.ts";

/** Whether a code block is still open at the end of `text` (CommonMark backtick fences). */
function endsOpen(text: string): boolean {
  let ticks = 0;
  for (const line of text.split("\n")) {
    if (ticks === 0) {
      const m = /^ {0,3}(`{3,})[^`]*$/.exec(line);
      if (m) ticks = m[1]!.length;
    } else {
      const m = /^ {0,3}(`{3,})\s*$/.exec(line);
      if (m && m[1]!.length >= ticks) ticks = 0;
    }
  }
  return ticks > 0;
}

/**
 * Lines that start like a fence but are not one (backticks later on the line), and backtick runs
 * longer than a part, are the documented cases the splitter cannot balance when it must cut
 * them; keep them out of random text.
 */
const notFence = (text: string) =>
  text
    .replace(/`{4,}/g, "``` ")
    .split("\n")
    .map((line) => (/^ {0,3}```/.test(line) ? "x" + line : line))
    .join("\n");

/** Checks every property the outbox relies on, for any input. */
function checkSplit(text: string, limit: number): string[] {
  const parts = splitMessageParts(text, limit);
  let rebuilt = "";
  let pos = 0;
  for (const part of parts) {
    expect(part.text.length).toBeLessThanOrEqual(limit);
    expect(part.text.trim()).not.toBe("");
    expect(part.text).toBe(part.prefix + text.slice(part.start, part.end) + part.suffix);
    // What was dropped between two parts is only whitespace (a line break, blank lines).
    expect(text.slice(pos, part.start).trim()).toBe("");
    rebuilt += text.slice(pos, part.end);
    pos = part.end;
    // No part starts or ends inside a surrogate pair.
    const first = text.charCodeAt(part.start);
    expect(first >= 0xdc00 && first <= 0xdfff).toBe(false);
    const last = text.charCodeAt(part.end - 1);
    expect(last >= 0xd800 && last <= 0xdbff).toBe(false);
  }
  expect(text.slice(pos).trim()).toBe("");
  expect(rebuilt + text.slice(pos)).toBe(text);
  return parts.map((p) => p.text);
}

describe("splitMessage", () => {
  test("a message within the limit is one part, unchanged", () => {
    expect(splitMessage("hello\nworld", 100)).toEqual(["hello\nworld"]);
  });

  test("an empty or blank message has no parts", () => {
    expect(splitMessage("", 10)).toEqual([]);
    expect(splitMessage(" \n\n ", 10)).toEqual([]);
  });

  test("splits at line boundaries, dropping the newline between parts", () => {
    const text = "line one\nline two\nline three\nline four";
    const parts = splitMessage(text, 20);
    expect(parts).toEqual(["line one\nline two", "line three\nline four"]);
    expect(parts.join("\n")).toBe(text);
  });

  test("an over-long line is cut at a space", () => {
    const parts = splitMessage("the quick brown fox jumps over the lazy dog", 16);
    expect(parts).toEqual(["the quick brown ", "fox jumps over ", "the lazy dog"]);
  });

  test("a line without spaces is cut hard", () => {
    expect(splitMessage("abcdefghij", 4)).toEqual(["abcd", "efgh", "ij"]);
  });

  test("never splits a surrogate pair", () => {
    const parts = splitMessage("a😀😀😀😀", 4);
    expect(parts.join("")).toBe("a😀😀😀😀");
    for (const p of parts) expect(p).not.toMatch(/[\ud800-\udbff]$|^[\udc00-\udfff]/);
  });

  test("closes a code fence at the end of a part and reopens it with its info string", () => {
    const code = Array.from({ length: 8 }, (_, i) => `print(${i}) # some padding`).join("\n");
    const text = `Result:\n\`\`\`python\n${code}\n\`\`\`\ndone`;
    const parts = checkSplit(text, 80);
    expect(parts.length).toBeGreaterThan(2);
    for (const part of parts) expect(endsOpen(part)).toBe(false);
    expect(parts[0]!.endsWith("\n```")).toBe(true);
    expect(parts[1]!.startsWith("```python\n")).toBe(true);
    expect(parts[parts.length - 1]!.endsWith("done")).toBe(true);
  });

  test("a hard-cut line inside a fence keeps both halves fenced", () => {
    const text = "```\n" + "x".repeat(100) + "\n```";
    const parts = checkSplit(text, 40);
    for (const part of parts) {
      expect(part.startsWith("```")).toBe(true);
      expect(part.endsWith("```")).toBe(true);
    }
  });

  test("random texts keep every property (seeded)", () => {
    const rng = new Rng(20240611);
    for (let i = 0; i < 3000; i++) {
      const lines = Array.from({ length: rng.int(30) }, () =>
        rng.chance(0.15) ? "```" + rng.pick(["", "py", "json", "sh"]) : notFence(rng.string(rng.pick([5, 30, 120]))),
      );
      const text = lines.join("\n");
      const limit = rng.pick([2, 3, 10, 16, 40, 100, 4000]);
      const parts = checkSplit(text, limit);
      if (limit >= 16 && parts.length > 1) {
        // Every part is a closed whole, the last too (an unclosed block is closed for chat).
        for (const part of parts) expect(endsOpen(part)).toBe(false);
      }
    }
  });

  test("rejects a limit too small to make progress", () => {
    expect(() => splitMessage("abc", 1)).toThrow(RangeError);
  });
});
