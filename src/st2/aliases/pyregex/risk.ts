/**
 * Formats whose regex a chat user can make take exponential time. StackStorm's formats are
 * Python regexes written by operators and run on user text; on a backtracking engine a
 * repeat inside a repeat (`(\w+\s?)+`, `({{x}} )*`) or an alternation of overlapping branches
 * under a repeat (`(.|.)*`) is exponential in the command's length, which no length bound
 * makes small. None of the 198 exchange aliases has either; such a format is refused.
 */
import type { PyNode, PySeq } from "./ast.ts";

/** Why the tree is exponential on a backtracking engine, or undefined when it is not. */
export function catastrophicRepeat(seq: PySeq): string | undefined {
  return walk(seq, false);
}

function walk(seq: PySeq, inRepeat: boolean): string | undefined {
  for (const node of seq) {
    const why = visit(node, inRepeat);
    if (why) return why;
  }
  return undefined;
}

function visit(node: PyNode, inRepeat: boolean): string | undefined {
  switch (node.t) {
    case "repeat": {
      const repeats = node.max > 1;
      if (repeats && inRepeat) return "a repeat inside a repeat (like `(a+)+`)";
      return visit(node.body, inRepeat || repeats);
    }
    case "group":
      return walk(node.body, inRepeat);
    case "alt":
      if (inRepeat && !distinctCharacters(node.branches)) return "an alternation under a repeat whose branches may match the same text (like `(.|.)*`)";
      for (const branch of node.branches) {
        const why = walk(branch, inRepeat);
        if (why) return why;
      }
      return undefined;
    case "look":
      // A lookaround runs anew at each position it is tried: its own repeats count from zero.
      return walk(node.body, false);
    default:
      return undefined;
  }
}

/**
 * Branches that each start with a different literal character (`(beep|honk|meep)+`,
 * `(a|b)*`) cannot match the same text: at most one of them is ever tried to the end.
 * (Compared as written: under `(?i)` `a` and `A` would overlap, so letters count as one.)
 */
function distinctCharacters(branches: PySeq[]): boolean {
  const seen = new Set<string>();
  for (const branch of branches) {
    const first = branch[0];
    if (!first || first.t !== "lit") return false;
    const ch = String.fromCodePoint(first.cp).toLowerCase();
    if (seen.has(ch)) return false;
    seen.add(ch);
  }
  return true;
}
