/**
 * A format turned into the Python regex StackStorm compiles (`ActionAliasFormatParser`), and
 * read back. Two readers give the same facts: the full CPython-compatible parse, and a
 * shortcut for the common regex made only of plain characters and StackStorm's own
 * parameter groups, which reads the facts off the text without building a parse tree. The
 * shortcut keeps building thousands of formats cheap in time and in memory; anything it
 * does not recognise exactly goes to the full parse.
 */
import { parsePython } from "./pyregex/parse.ts";
import { PyRegexError } from "./pyregex/errors.ts";
import type { AtKind, PyFlags, PyNode, PyParsed, PySeq } from "./pyregex/ast.ts";
import { BEGIN, END, getSnippets, joinGroups, PARAM_HEAD, PARAM_TAIL, paramMatch } from "./snippets.ts";
import { PY_SPACE } from "./words.ts";

/** A format after StackStorm's two `re.sub` calls. */
export interface Expansion {
  /** The regex before StackStorm's anchors (its `reg`). */
  readonly reg: string;
  /** The names written as `{{ name = default }}` then `{{ name }}`, as substituted. */
  readonly fields: string[];
}

/** The two `re.sub` calls that turn `{{ … }}` into named groups; also lists the names. */
export function expandFormat(format: string): Expansion {
  const fields: string[] = [];
  if (!format.includes("{{")) return { reg: format, fields };
  const s = getSnippets();
  const optional = format.replace(s.optionalSub.regex, (_m: string, spacing: string | undefined, name: string | undefined) => {
    fields.push(name ?? "");
    return `(?:${paramMatch(spacing ?? "", name ?? "")})?`;
  });
  const reg = optional.replace(s.requiredSub.regex, (_m: string, spacing: string | undefined, name: string | undefined) => {
    fields.push(name ?? "");
    return paramMatch(spacing ?? "", name ?? "");
  });
  return { reg, fields };
}

/** `re.findall(optional, format, DOTALL)` as a flat list: name, default, name, default… */
export function findDefaults(format: string): string[] {
  const out: string[] = [];
  if (!format.includes("{{")) return out;
  const re = getSnippets().optionalFind.regex;
  re.lastIndex = 0;
  for (let m = re.exec(format); m; m = re.exec(format)) out.push(m[1] ?? "", joinGroups(m, 2, 5));
  return out;
}

/** The Python regex StackStorm compiles: `reg` with whichever anchors it adds. */
export function anchoredPattern(reg: string, begin: boolean, end: boolean): string {
  return (begin ? BEGIN : "") + reg + (end ? END : "");
}

/** What building a format needs from its regex. */
export interface RegexFacts {
  /** Named groups' names, in group order. */
  readonly names: string[];
  /** Their Python group numbers, parallel to `names`. */
  readonly groups: number[];
  /** Whether StackStorm adds `^\s*` / `\s*$`. */
  readonly begin: boolean;
  readonly end: boolean;
  /** The final tree's top level (a stand-in for the shortcut) and flags, for the index hints. */
  readonly top: PySeq;
  readonly flags: PyFlags;
}

/**
 * Reads `reg` as Python does (throws PyRegexError or UnsupportedRegexError where Python or
 * the local matcher would fail), by the shortcut when it applies, else by the full parse.
 */
export function readRegex(reg: string): RegexFacts {
  return readPlainRegex(reg) ?? readParsedRegex(reg);
}

/** The full parse of the final pattern (anchors included), for the RegExp and examples. */
export function parseFinal(reg: string, begin: boolean, end: boolean): PyParsed {
  return withAnchors(reg, parsePython(reg, { s: true }), begin, end);
}

const BEGIN_ANCHORS: ReadonlySet<AtKind> = new Set(["bol", "bos"]);
const END_ANCHORS: ReadonlySet<AtKind> = new Set(["eol", "eos"]);
const SPACE_STAR: PyNode = { t: "repeat", min: 0, max: Infinity, lazy: false, body: { t: "set", neg: false, items: [{ k: "cat", cat: "s" }] } };
const BOL: PyNode = { t: "at", at: "bol" };
const EOL: PyNode = { t: "at", at: "eol" };

/**
 * `search_regex_tokens`: StackStorm looks for anchors only at the top level, inside groups,
 * and in the *second* alternative of an alternation (it reads `branches[1]`), never inside
 * repeats or lookarounds. Reproduced as is, since it decides whether `^\s*` / `\s*$` is added.
 */
function hasAnchor(seq: PySeq, kinds: ReadonlySet<AtKind>): boolean {
  for (const n of seq) {
    if (n.t === "group" && hasAnchor(n.body, kinds)) return true;
    if (n.t === "alt") {
      const second = n.branches[1];
      if (second && hasAnchor(second, kinds)) return true;
    }
    if (n.t === "at" && kinds.has(n.at)) return true;
  }
  return false;
}

/** The facts from the full parse (the reference the shortcut must agree with). */
export function readParsedRegex(reg: string): RegexFacts {
  const first = parsePython(reg, { s: true });
  const begin = !hasAnchor(first.ast, BEGIN_ANCHORS);
  const end = !hasAnchor(first.ast, END_ANCHORS);
  const parsed = withAnchors(reg, first, begin, end);
  const named = [...parsed.names].sort((a, b) => a[0] - b[0]);
  return { names: named.map(([, name]) => name), groups: named.map(([index]) => index), begin, end, top: parsed.ast, flags: parsed.flags };
}

/**
 * The parse of `^\s*` + reg + `\s*$` (whichever StackStorm adds), built from the parse of
 * `reg` instead of parsing again. Same tree, same groups; the one error the concatenation
 * can introduce (global flags no longer at the start) is raised as CPython would. Under a
 * global verbose flag the suffix could fall into a trailing `#` comment: parse the text then.
 */
function withAnchors(reg: string, parsed: PyParsed, begin: boolean, end: boolean): PyParsed {
  if (!begin && !end) return parsed;
  if (begin && parsed.globalFlagsAt !== null) throw new PyRegexError("global flags not at the start of the expression", BEGIN.length + parsed.globalFlagsAt);
  if (parsed.flags.x) return parsePython(anchoredPattern(reg, begin, end), { s: true });
  const prefix: PyNode[] = begin ? [BOL, SPACE_STAR] : [];
  const suffix: PyNode[] = end ? [SPACE_STAR, EOL] : [];
  const only = parsed.ast[0];
  if (parsed.ast.length === 1 && only?.t === "alt") {
    // `^\s*` + "a|b" is `(^\s*a)|(b\s*$)`: the anchors join the first and last branches.
    const branches = only.branches.slice();
    branches[0] = [...prefix, ...(branches[0] ?? [])];
    branches[branches.length - 1] = [...(branches[branches.length - 1] ?? []), ...suffix];
    return { ...parsed, ast: [{ t: "alt", branches }] };
  }
  return { ...parsed, ast: [...prefix, ...parsed.ast, ...suffix] };
}

// ---------------------------------------------------------------------------------------
// The shortcut
// ---------------------------------------------------------------------------------------

/**
 * Characters that are not a literal of their own in a Python pattern outside a class
 * (`)` ends a group or is an error). A pattern without them, and without the verbose flag
 * (which needs `(`), is literal text. Surrogates are left to the full parse.
 */
const NOT_PLAIN = new Set(".\\[{()*+?^$|");
const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PLAIN_FLAGS: PyFlags = { i: false, m: false, s: true, x: false, a: false };
/**
 * What a parameter group stands for in the index hints' view of the top level: the
 * `["\']?` it starts with (neither literal nor whitespace; the hints never look past it).
 */
const PARAM_NODE: PyNode = { t: "repeat", min: 0, max: 1, lazy: false, body: { t: "set", neg: false, items: [{ k: "cp", cp: 0x22 }, { k: "cp", cp: 0x27 }] } };
/** Shared literal nodes for ASCII (the stand-in tree is only read). */
const ASCII_LITERALS: PyNode[] = Array.from({ length: 128 }, (_, cp) => ({ t: "lit", cp }));

/**
 * `reg` when it is exactly plain characters and StackStorm parameter groups
 * (`param_match`, or `(?:` spacing `param_match` `)?` for a default) with distinct ASCII
 * identifier names; null otherwise. Python then reads every plain character as a literal,
 * finds no anchor (so both are added), no flag and one group per parameter, in order:
 * the facts below are what the full parse would report, which the tests check.
 */
export function readPlainRegex(reg: string): RegexFacts | null {
  const top: PyNode[] = [BOL, SPACE_STAR];
  const names: string[] = [];
  let i = 0;
  while (i < reg.length) {
    const ch = reg[i] ?? "";
    const code = reg.charCodeAt(i);
    if (!NOT_PLAIN.has(ch)) {
      if (code >= 0xd800 && code <= 0xdfff) return null;
      top.push(ASCII_LITERALS[code] ?? { t: "lit", cp: code });
      i++;
      continue;
    }
    const param = readParam(reg, i);
    if (!param || names.includes(param.name)) return null;
    names.push(param.name);
    top.push(PARAM_NODE);
    i = param.next;
  }
  top.push(SPACE_STAR, EOL);
  return { names, groups: names.map((_, k) => k + 1), begin: true, end: true, top, flags: PLAIN_FLAGS };
}

/** A parameter group at `i`: required (`param_match` without its spacing) or optional. */
function readParam(reg: string, i: number): { name: string; next: number } | null {
  if (reg.startsWith(PARAM_HEAD, i)) return readParamBody(reg, i);
  if (!reg.startsWith("(?:", i)) return null;
  let j = i + 3;
  while (j < reg.length && PY_SPACE.has(reg[j] ?? "")) j++;
  if (!reg.startsWith(PARAM_HEAD, j)) return null;
  const body = readParamBody(reg, j);
  if (!body || !reg.startsWith(")?", body.next)) return null;
  return { name: body.name, next: body.next + 2 };
}

function readParamBody(reg: string, i: number): { name: string; next: number } | null {
  const start = i + PARAM_HEAD.length;
  const close = reg.indexOf(">", start);
  if (close < 0) return null;
  const name = reg.slice(start, close);
  if (!PLAIN_NAME.test(name) || !reg.startsWith(PARAM_TAIL, close)) return null;
  return { name, next: close + PARAM_TAIL.length };
}
