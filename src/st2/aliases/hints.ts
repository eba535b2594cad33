/**
 * What a format requires of a command, read from its final parse tree, for the alias index:
 * the leading words every match begins with, the literal text every match contains, and a
 * whole word it contains. Only requirements that hold for *every* match are reported, so
 * using them to skip a format never changes a verdict.
 */
import type { PyFlags, PyNode, PySeq } from "./pyregex/ast.ts";
import { PY_SPACE, splitWords } from "./words.ts";

/** What the index needs to file a format: the words every match starts with, and more. */
export interface IndexHints {
  /**
   * Leading words every match must begin with, as alternatives per position (`(show|sh)`
   * gives two); each path is a sequence of whole words. Empty: no usable leading word.
   */
  readonly paths: readonly (readonly string[])[];
  /**
   * Substrings every match contains, in this order without overlap (the literal runs of the
   * top-level sequence): a cheap pre-filter before running the regex.
   */
  readonly literals: readonly string[];
  /**
   * A whole word every match contains as a word of its own (whitespace on both sides inside
   * a literal run), "" when none: formats with no leading word are filed under it.
   */
  readonly word: string;
}

/** Leading words deeper than this are not indexed (they rarely narrow further). */
export const MAX_INDEXED_DEPTH = 4;
/** Alternatives such as `(show|sh) (ip|ipv6)` multiply; past this a path stops shorter. */
const MAX_PATHS = 32;

/**
 * Index hints as a compiled format keeps them: the literal runs, and the leading-word paths
 * as one string (paths separated by "\n", words by " "; words never hold whitespace). Nested
 * arrays per format cost several times more, and the index reads them only when it files
 * the format.
 */
export interface PackedHints {
  readonly literals: readonly string[];
  readonly paths: string;
}

const NO_LITERALS: readonly string[] = [];
const NO_HINTS: PackedHints = { literals: NO_LITERALS, paths: "" };

/**
 * Index hints from the top level of the final parse tree. Leading words only for a regex
 * anchored at the start (`^\s*`, StackStorm's or the format's own) whose first items are
 * literal words, each ending in whitespace or the end: then any match begins with exactly
 * those words. Case-insensitive or multi-line patterns get none.
 */
export function indexHints(ast: PySeq, flags: PyFlags): PackedHints {
  if (flags.i) return NO_HINTS;
  const runs = literalRuns(ast);
  const paths = leadingPaths(ast, flags);
  if (paths.length === 0 && runs.length === 0) return NO_HINTS;
  return { literals: runs.length > 0 ? runs : NO_LITERALS, paths: paths.map((p) => p.join(" ")).join("\n") };
}

/** The hints in full, from their packed form. */
export function unpackHints({ literals, paths }: PackedHints): IndexHints {
  return { paths: paths ? paths.split("\n").map((p) => p.split(" ")) : [], literals, word: longestInnerWord(literals) };
}

/**
 * Text from code points, built in one piece: these strings live as long as the format, and
 * one grown with `+=` would stay a chain of one-character fragments.
 */
function textOf(cps: number[]): string {
  if (cps.length <= TEXT_CHUNK) return String.fromCodePoint(...cps);
  // Spread arguments are bounded by the stack: a huge run is built in slices.
  const parts: string[] = [];
  for (let i = 0; i < cps.length; i += TEXT_CHUNK) parts.push(String.fromCodePoint(...cps.slice(i, i + TEXT_CHUNK)));
  return parts.join("");
}
const TEXT_CHUNK = 4096;
/**
 * Python whitespace by code point, read inline in the per-character loops below: they run for
 * every format of an install at start-up, and a call per character (15,000 formats) was enough
 * to make JavaScriptCore optimise these functions there, which pages its optimising compiler in
 * (several MB resident, scripts/bench/bigaliases.ts).
 */
const SPACE = new Uint8Array(0x3001);
for (const ch of PY_SPACE) SPACE[ch.charCodeAt(0)] = 1;

/** How many characters a node that only ever matches whitespace needs; -1 for any other node. */
function spaceMin(n: PyNode | undefined): number {
  if (!n) return -1;
  if (n.t === "lit") return SPACE[n.cp] === 1 ? 1 : -1;
  if (n.t === "set") {
    if (n.neg) return -1;
    for (const i of n.items) if (i.k === "cat" ? i.cat !== "s" : i.k !== "cp" || SPACE[i.cp] !== 1) return -1;
    return 1;
  }
  if (n.t === "repeat") {
    const inner = spaceMin(n.body);
    return inner < 0 ? -1 : n.min * inner;
  }
  return -1;
}

/** `spaceMin` with the common case (a literal character) answered without a call. */
function spaceMinAt(seq: PySeq, j: number): number {
  const n = seq[j];
  return n?.t === "lit" ? (SPACE[n.cp] === 1 ? 1 : -1) : spaceMin(n);
}

function isEndAnchor(n: PyNode | undefined, flags: PyFlags): boolean {
  return n?.t === "at" && (n.at === "eos" || (n.at === "eol" && !flags.m));
}

/** The alternatives of a word slot: a run of literal characters, or a group of such runs. */
function readSlot(seq: PySeq, i: number): { words: string[]; next: number } | null {
  const n = seq[i];
  if (n?.t === "lit" && SPACE[n.cp] !== 1) {
    const cps: number[] = [];
    let j = i;
    for (let m = seq[j]; m?.t === "lit" && SPACE[m.cp] !== 1; m = seq[++j]) cps.push(m.cp);
    return { words: [textOf(cps)], next: j };
  }
  if (n?.t === "group" && !n.on.i && !n.off.i) {
    const only = n.body[0];
    const branches = n.body.length === 1 && only?.t === "alt" ? only.branches : [n.body];
    const words: string[] = [];
    for (const b of branches) {
      const cps: number[] = [];
      for (const c of b) {
        if (c.t !== "lit" || SPACE[c.cp] === 1) return null;
        cps.push(c.cp);
      }
      if (cps.length === 0) return null;
      words.push(textOf(cps));
    }
    return { words: [...new Set(words)], next: i + 1 };
  }
  return null;
}

type AfterSlot = { kind: "end" } | { kind: "sep"; next: number } | { kind: "glued" };

/** What follows a word: whitespace then more (a boundary), the end, or more word characters. */
function afterSlot(seq: PySeq, i: number, flags: PyFlags): AfterSlot {
  let boundary = false;
  let j = i;
  for (let min = spaceMinAt(seq, j); min >= 0; min = spaceMinAt(seq, ++j)) if (min > 0) boundary = true;
  if (j >= seq.length) return boundary ? { kind: "end" } : { kind: "glued" };
  if (isEndAnchor(seq[j], flags) && seq.slice(j).every((n) => isEndAnchor(n, flags) || spaceMin(n) >= 0)) return { kind: "end" };
  return boundary ? { kind: "sep", next: j } : { kind: "glued" };
}

function leadingPaths(ast: PySeq, flags: PyFlags): string[][] {
  const first = ast[0];
  if (flags.i || flags.m || first?.t !== "at" || (first.at !== "bol" && first.at !== "bos")) return [];
  let i = 1;
  while (i < ast.length && spaceMinAt(ast, i) >= 0) i++;
  const slots: string[][] = [];
  let paths = 1;
  while (slots.length < MAX_INDEXED_DEPTH) {
    const slot = readSlot(ast, i);
    if (!slot || paths * slot.words.length > MAX_PATHS) break;
    const after = afterSlot(ast, slot.next, flags);
    if (after.kind === "glued") break;
    slots.push(slot.words);
    paths *= slot.words.length;
    if (after.kind === "end") break;
    i = after.next;
  }
  if (slots.length === 0) return [];
  let out: string[][] = [[]];
  for (const words of slots) out = out.flatMap((p) => words.map((w) => [...p, w]));
  return out;
}

/** The runs of literal characters at the top level: every match contains each of them. */
function literalRuns(ast: PySeq): string[] {
  if (ast.length === 1 && ast[0]?.t === "alt") return [];
  const runs: string[] = [];
  let run: number[] = [];
  for (const n of ast) {
    if (n.t === "lit") {
      run.push(n.cp);
      continue;
    }
    if (run.length > 0) runs.push(textOf(run));
    run = [];
  }
  if (run.length > 0) runs.push(textOf(run));
  return runs;
}

/** The longest word enclosed by whitespace inside one literal run ("" when none). */
function longestInnerWord(runs: readonly string[]): string {
  let best = "";
  for (const run of runs) {
    const words = splitWords(run);
    // The first and last pieces may continue outside the run: only inner ones are whole.
    const starts = PY_SPACE.has(run[0] ?? "") ? 0 : 1;
    const ends = PY_SPACE.has(run[run.length - 1] ?? "") ? words.length : words.length - 1;
    for (let i = starts; i < ends; i++) {
      const w = words[i] ?? "";
      if (w.length > best.length) best = w;
    }
  }
  return best;
}

