/**
 * The syntax tree of a Python `re` pattern as `parse.ts` builds it (the shape of CPython's
 * `re._parser` output), read by the emitter, the risk check, hints and examples.
 */

/** The inline flags that change how a Python pattern reads. */
export interface PyFlags {
  /** IGNORECASE. */
  i: boolean;
  /** MULTILINE: `^` and `$` at every line. */
  m: boolean;
  /** DOTALL: `.` matches a newline too. */
  s: boolean;
  /** VERBOSE: whitespace and `#` comments ignored. */
  x: boolean;
  /** ASCII: `\w`, `\d`, `\s`, `\b` ASCII-only. */
  a: boolean;
}
/** One flag letter, as `(?i)` spells it. */
export type FlagName = keyof PyFlags;

/** A class shorthand: `\d`, `\w`, `\s` and their complements. */
export type Category = "d" | "D" | "w" | "W" | "s" | "S";
/** One member of a character class. */
export type SetItem = { k: "cp"; cp: number } | { k: "range"; lo: number; hi: number } | { k: "cat"; cat: Category };
/** A zero-width assertion: `^`, `\A`, `$`, `\Z`, `\b`, `\B`. */
export type AtKind = "bol" | "bos" | "eol" | "eos" | "b" | "B";

/** One node of the tree; `t` names the kind (a literal code point, a class, a group…). */
export type PyNode =
  | { t: "lit"; cp: number }
  | { t: "any" }
  | { t: "set"; neg: boolean; items: SetItem[] }
  | { t: "at"; at: AtKind }
  | { t: "group"; index: number | null; on: Partial<PyFlags>; off: Partial<PyFlags>; body: PySeq; width?: Width }
  | { t: "alt"; branches: PySeq[] }
  | { t: "repeat"; min: number; max: number; lazy: boolean; body: PyNode }
  | { t: "look"; behind: boolean; neg: boolean; body: PySeq }
  | { t: "ref"; index: number };
/** A sequence of nodes matched one after the other (a branch, a group body). */
export type PySeq = PyNode[];

/** [min, max] width of a sub-pattern, as `SubPattern.getwidth()` computes it. */
export type Width = [number, number];

/** What `parsePython` returns: the tree, the global flags and the group numbering. */
export interface PyParsed {
  /** The top-level sequence. */
  ast: PySeq;
  /** Global flags: the base flags plus inline `(?…)` flags at the start. */
  flags: PyFlags;
  /** Python group number → name, for named groups. */
  names: Map<number, string>;
  /** How many capturing groups the pattern has (group 0, the whole match, not counted). */
  groupCount: number;
  /** Where the first global flags group starts (null when there is none). */
  globalFlagsAt: number | null;
}
