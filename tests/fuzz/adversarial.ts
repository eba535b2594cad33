/**
 * Adversarial chat commands for the alias matcher, built from real aliases: each
 * representation's own leading words (so the index really tries its regex), then text made
 * to provoke backtracking — runs of quotes and spaces around lazy parameters, runs of
 * `key=value` pairs, unclosed quotes and braces, nested-quantifier bait and every class of
 * Unicode whitespace — filled to the matcher's bounds. Shared by tests/fuzz/redos.test.ts
 * and scripts/bench/redos.ts.
 */
import { compileFormat } from "../../src/st2/aliases/format.ts";
import { MAX_COMMAND_LENGTH, MAX_MATCHED_LENGTH } from "../../src/st2/aliases/index.ts";
import { formatPatterns, type ActionAlias } from "../../src/st2/aliases/types.ts";

/** Units repeated after a head; each is a known way to make a backtracking matcher slow. */
export const BAITS = [
  "' ", '" ', "'", '"', " ", "a ", "a", "} ", "{", "{{", "=", "a=b ", 'a="b"  ', "a='b c' ", "x= ",
  " on ", " to ", " for ", "-", ",", "\\", "(.|.)*", "((a+)+)+", "\u0085", "\u00a0x", "\u2028 ", "\u3000", "\x1c ", "\ufeff", "😀 ",
];

/** A normal command for each representation: its own example, as a user would type it. */
export function examples(aliases: readonly ActionAlias[]): string[] {
  const out = new Set<string>();
  for (const alias of aliases) {
    let entries: ReturnType<typeof formatPatterns> = [];
    try {
      entries = formatPatterns(alias.formats ?? []);
    } catch {
      continue;
    }
    for (const e of entries) {
      try {
        out.add(compileFormat(e.representation).exampleCommand());
      } catch {
        // A format the index reports as a problem is never tried.
      }
    }
  }
  return [...out];
}

/** Distinct heads: the first word and all but the last word of each example. */
export function heads(exampleCommands: readonly string[]): string[] {
  const out = new Set<string>();
  for (const ex of exampleCommands) {
    const words = ex.split(" ");
    out.add(`${words[0]} `);
    if (words.length > 2) out.add(`${words.slice(0, -1).join(" ")} `);
  }
  return [...out];
}

/** `head` then `bait` repeated up to `length` characters. */
export function fill(head: string, bait: string, length: number): string {
  const n = Math.max(0, Math.ceil((length - head.length) / bait.length));
  return (head + bait.repeat(n)).slice(0, length);
}

/** Every adversarial command for these heads: baits filled to the matched-text bound, and pairs to the whole-command bound. */
export function* adversarial(headList: readonly string[], baits: readonly string[] = BAITS): Generator<string> {
  for (const head of headList) {
    for (const bait of baits) yield fill(head, bait, MAX_MATCHED_LENGTH);
    // Trailing pairs are cut before the format regexes run, so they may fill the whole command.
    yield fill(head, 'k="v"  ', MAX_COMMAND_LENGTH);
    yield `${head}x ${fill("k=", '"v ', MAX_COMMAND_LENGTH - head.length - 2)}`;
  }
}
