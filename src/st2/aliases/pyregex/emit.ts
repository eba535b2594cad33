/**
 * A parsed Python pattern as a JavaScript RegExp (`u` flag) with the same meaning: Python's
 * `\s`, `\w`, `\d`, `\b`, `$`, `.`, inline flags and empty optional iterations are spelled
 * out explicitly, since JavaScript reads each of them differently.
 */
import { parsePython } from "./parse.ts";
import type { AtKind, FlagName, PyFlags, PyNode, PyParsed, PySeq, SetItem } from "./ast.ts";
import { UnsupportedRegexError } from "./errors.ts";
import { describeError } from "../../../lib/errors.ts";

/** Python's `\s` (str.isspace) differs from JavaScript's: +\x1c-\x1f, \x85; −\ufeff. */
const PY_SPACE_MEMBERS = "\\t-\\r\\u{1c}-\\u{20}\\u{85}\\u{a0}\\u{1680}\\u{2000}-\\u{200a}\\u{2028}\\u{2029}\\u{202f}\\u{205f}\\u{3000}";
function categoryMembers(cat: "d" | "w" | "s", ascii: boolean): string {
  if (cat === "d") return ascii ? "0-9" : "\\p{Nd}";
  if (cat === "w") return ascii ? "A-Za-z0-9_" : "\\p{L}\\p{N}_";
  return ascii ? "\\t-\\r " : PY_SPACE_MEMBERS;
}

const SAFE_LITERAL = /^[A-Za-z0-9_ !"#%&',\-:;<=>@`~]$/;
const SAFE_CLASS = /^[A-Za-z0-9_ ]$/;

function literalOut(cp: number): string {
  const ch = String.fromCodePoint(cp);
  if (SAFE_LITERAL.test(ch)) return ch;
  if ("^$\\.*+?()[]{}|/".includes(ch)) return "\\" + ch;
  return `\\u{${cp.toString(16)}}`;
}

function classCharOut(cp: number): string {
  const ch = String.fromCodePoint(cp);
  return SAFE_CLASS.test(ch) ? ch : `\\u{${cp.toString(16)}}`;
}

/** Turns the Python tree into JavaScript source for a `u`-flag RegExp. */
class Emitter {
  /** A sequence; a lone alternation is left bare (the caller's parentheses hold it). */
  seq(nodes: PySeq, f: PyFlags): string {
    const only = nodes[0];
    if (nodes.length === 1 && only?.t === "alt") return only.branches.map((b) => this.seq(b, f)).join("|");
    let out = "";
    for (const n of nodes) out += this.node(n, f);
    return out;
  }

  node(n: PyNode, f: PyFlags): string {
    switch (n.t) {
      case "lit":
        return literalOut(n.cp);
      case "any":
        return f.s ? "[^]" : "[^\\n]";
      case "set":
        return this.set(n.neg, n.items, f);
      case "at":
        return this.at(n.at, f);
      case "group":
        return this.group(n, f);
      case "alt":
        return `(?:${n.branches.map((b) => this.seq(b, f)).join("|")})`;
      case "repeat":
        return this.repeat(n, f);
      case "look":
        return `(?${n.behind ? "<" : ""}${n.neg ? "!" : "="}${this.seq(n.body, f)})`;
      case "ref":
        // Wrapped so a following digit cannot extend the group number.
        return `(?:\\${n.index})`;
    }
  }

  private group(n: Extract<PyNode, { t: "group" }>, f: PyFlags): string {
    const inner: PyFlags = { ...f, ...trueKeys(n.on), ...falseKeys(n.off) };
    const body = this.seq(n.body, inner);
    // Plain numbered groups: JavaScript numbers them exactly as Python does, and named
    // groups would cost a `groups` object on every exec.
    if (n.index !== null) return `(${body})`;
    if (inner.i !== f.i) return `(?${inner.i ? "i" : "-i"}:${body})`;
    return `(?:${body})`;
  }

  private repeat(n: Extract<PyNode, { t: "repeat" }>, f: PyFlags): string {
    let atom = this.node(n.body, f);
    if (n.min === 0 && n.max === 1 && minWidth(n.body) === 0) {
      // JavaScript rejects an iteration that matches nothing (the group then stays unset);
      // Python keeps it (the group is ""). An alternation has no such rule.
      return n.lazy ? `(?:|${atom})` : `(?:${atom}|)`;
    }
    // JavaScript (u flag) refuses a quantifier directly on a lookaround; Python allows it.
    if (n.body.t === "look") atom = `(?:${atom})`;
    let q: string;
    if (n.min === 0 && n.max === Infinity) q = "*";
    else if (n.min === 1 && n.max === Infinity) q = "+";
    else if (n.min === 0 && n.max === 1) q = "?";
    else if (n.min === n.max) q = `{${n.min}}`;
    else if (n.max === Infinity) q = `{${n.min},}`;
    else q = `{${n.min},${n.max}}`;
    return atom + q + (n.lazy ? "?" : "");
  }

  private at(kind: AtKind, f: PyFlags): string {
    const word = f.a ? "[A-Za-z0-9_]" : "[\\p{L}\\p{N}_]";
    switch (kind) {
      case "bol":
        return f.m ? "(?<![^\\n])" : "^";
      case "bos":
        return "^";
      case "eol":
        // Python's `$` also matches before a newline that ends the string.
        return f.m ? "(?![^\\n])" : "(?=\\n?$)";
      case "eos":
        return "$";
      case "b":
        return `(?:(?<=${word})(?!${word})|(?<!${word})(?=${word}))`;
      case "B":
        return `(?:(?<=${word})(?=${word})|(?<!${word})(?!${word}))`;
    }
  }

  /**
   * A class. Complemented categories (`\S`, `\W`, `\D`) cannot sit inside a `u`-mode
   * class, so `[\Sx]` becomes `(?:[x]|[^\s])` and `[^\Sx]` becomes `(?![x])[\s]`.
   */
  private set(neg: boolean, items: SetItem[], f: PyFlags): string {
    let pos = "";
    const complemented: string[] = [];
    for (const item of items) {
      if (item.k === "cp") pos += classCharOut(item.cp);
      else if (item.k === "range") pos += `${classCharOut(item.lo)}-${classCharOut(item.hi)}`;
      else if (item.cat === "d" || item.cat === "w" || item.cat === "s") pos += categoryMembers(item.cat, f.a);
      else complemented.push(categoryMembers(item.cat.toLowerCase() as "d" | "w" | "s", f.a));
    }
    if (complemented.length === 0) return `[${neg ? "^" : ""}${pos}]`;
    if (!neg) {
      const parts = complemented.map((c) => `[^${c}]`);
      if (pos) parts.unshift(`[${pos}]`);
      return parts.length === 1 ? (parts[0] ?? "") : `(?:${parts.join("|")})`;
    }
    // Not in pos and not in any complement = not in pos and in every category.
    const last = complemented[complemented.length - 1] ?? "";
    const ahead = complemented.slice(0, -1).map((c) => `(?=[${c}])`).join("");
    return `(?:${pos ? `(?![${pos}])` : ""}${ahead}[${last}])`;
  }
}

/** The least number of characters a node can match (back-references count as 0). */
function minWidth(n: PyNode): number {
  switch (n.t) {
    case "lit":
    case "any":
    case "set":
      return 1;
    case "group":
      return n.body.reduce((sum, c) => sum + minWidth(c), 0);
    case "alt":
      return Math.min(...n.branches.map((b) => b.reduce((sum, c) => sum + minWidth(c), 0)));
    case "repeat":
      return n.min * minWidth(n.body);
    default:
      return 0;
  }
}

function trueKeys(p: Partial<PyFlags>): Partial<PyFlags> {
  const out: Partial<PyFlags> = {};
  for (const k of Object.keys(p) as FlagName[]) if (p[k]) out[k] = true;
  return out;
}

function falseKeys(p: Partial<PyFlags>): Partial<PyFlags> {
  const out: Partial<PyFlags> = {};
  for (const k of Object.keys(p) as FlagName[]) if (p[k]) out[k] = false;
  return out;
}

/** A Python pattern compiled to a JavaScript RegExp with the same meaning. */
export interface PyRegExp {
  readonly pattern: string;
  readonly parsed: PyParsed;
  readonly regex: RegExp;
  /** The text of a Python group (JavaScript numbers the groups exactly as Python does). */
  group(m: RegExpExecArray, index: number): string | undefined;
}

/** The emitter is stateless: one instance serves every pattern. */
const EMITTER = new Emitter();

/** JavaScript source and flags for a parsed Python pattern. */
export function emitJs(parsed: PyParsed): { source: string; flags: string } {
  return { source: EMITTER.seq(parsed.ast, parsed.flags), flags: `u${parsed.flags.i ? "i" : ""}` };
}

/** JavaScript source for one node under the given flags (a piece of `emitJs`'s output). */
export function emitNode(n: PyNode, flags: PyFlags): string {
  return EMITTER.node(n, flags);
}

/** `new RegExp`, with JavaScript's refusal reported as UnsupportedRegexError. */
export function newRegExp(source: string, flags: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (err) {
    throw new UnsupportedRegexError(`JavaScript cannot compile the translated pattern (${describeError(err)})`);
  }
}

/**
 * `re.compile(pattern, flags)` for JavaScript. `extraFlags` adds `g`/`y` for iteration.
 * Throws PyRegexError (Python rejects it) or UnsupportedRegexError.
 */
export function compilePython(pattern: string, base: Partial<PyFlags> = {}, extraFlags = ""): PyRegExp {
  const parsed = parsePython(pattern, base);
  const { source, flags } = emitJs(parsed);
  const regex = newRegExp(source, flags + extraFlags);
  return { pattern, parsed, regex, group: (m, index) => m[index] };
}

