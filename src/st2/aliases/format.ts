/**
 * StackStorm's action-alias format parser (st2common `ActionAliasFormatParser`), reproduced
 * for local matching.
 *
 * StackStorm turns a format such as `run {{cmd}} on {{hosts}}` into a *Python* regular
 * expression with a handful of `re.sub` calls, then matches the command against it. The
 * literal text of a format is never escaped, so real formats are full Python regexes
 * (alternation, optional groups, `(?P<name>...)`). To give the same verdict as the server,
 * the Python regex is parsed as CPython parses it (`pyregex/parse.ts`), the structural
 * questions StackStorm asks of the tree (`search_regex_tokens`) are answered from it, and
 * it is matched through an equivalent JavaScript RegExp (`pyregex/emit.ts`). StackStorm's
 * own helper regexes (the trailing `key=value` pairs, `{{ name = default }}`) go through
 * the same translator so every step keeps Python semantics.
 *
 * Memory: a large install has tens of thousands of representations, most never tried. A
 * compiled format keeps only what matching and the index need (names, defaults, hints);
 * the parse tree is dropped after the build and the RegExp is built on first use.
 */
import { exampleText } from "./example.ts";
import { indexHints, type IndexHints } from "./hints.ts";
import { compilePython, emitJs, newRegExp, type PyRegExp } from "./pyregex/emit.ts";
import { hasAnchor, parsePython, pyRepr, PyRegexError, UnsupportedRegexError } from "./pyregex/parse.ts";
import type { AtKind, PyNode, PyParsed } from "./pyregex/parse.ts";
import { isBlank, PY_SPACE } from "./words.ts";

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/** StackStorm's `ParseException`: the command does not fit the format. */
export class AliasParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The command does not match: `Command "<c>" doesn't match format string "<f>"`. */
export class ParseMismatchError extends AliasParseError {
  constructor(
    readonly command: string,
    readonly format: string,
  ) {
    super(`Command "${command}" doesn't match format string "${format}"`);
  }
}

/** The format is non-empty but the command supplied nothing and no default applies. */
export class NoValueError extends AliasParseError {
  constructor() {
    super("No value supplied and no default value found.");
  }
}

/**
 * The format cannot be used: Python's `re` rejects the pattern StackStorm builds from it (so
 * StackStorm itself fails on it), or it uses a Python feature JavaScript cannot reproduce.
 */
export class FormatError extends Error {
  constructor(
    readonly format: string,
    readonly reason: string,
    /** The Python regex StackStorm derives from the format, when it got that far. */
    readonly pattern?: string,
  ) {
    super(`Invalid alias format "${format}": ${reason}`);
    this.name = new.target.name;
  }
}

// ---------------------------------------------------------------------------------------
// StackStorm's format transformation
// ---------------------------------------------------------------------------------------

// StackStorm's snippets, byte for byte (st2common/models/utils/action_alias_utils.py).
const KEY = String.raw`\s*(\S+?)\s*`;
const VALUE = String.raw`""|\'\'|"(.+?)"|\'(.+?)\'|({.+?})|(\S+)`;
const EXT_VALUE = String.raw`""|\'\'|"(.+?)"|\'(.+?)\'|({.+?})|(.+?)`;
const PAIRS = String.raw`(?:^|\s+)${KEY}=(${VALUE})`;
const DEFAULT = String.raw`\s*=\s*(?:${EXT_VALUE})\s*`;
const OPTIONAL = `{{${KEY}${DEFAULT}}}`;
const REQUIRED = `{{${KEY}}}`;
const BEGIN = String.raw`^\s*`;
const END = String.raw`\s*$`;

/** `param_match` after re.sub's template expansion of `\1` (spacing) and `\2` (name). */
function paramMatch(spacing: string, name: string): string {
  return String.raw`${spacing}["\']?(?P<${name}>(?:(?<=\').+?(?=\')|(?<=").+?(?=")|{.+?}|.+?))["\']?`;
}

interface Snippets {
  /**
   * StackStorm matches `.*?((PAIRS\s*)*)$` from the start. The lazy `.*?` makes that "the
   * first position where `((PAIRS\s*)*)$` matches"; this is that tail, tried (sticky) only
   * where a pair can start, which gives the same answer without the quadratic scan.
   */
  endingTail: PyRegExp;
  pairs: PyRegExp;
  optionalFind: PyRegExp;
  optionalSub: PyRegExp;
  requiredSub: PyRegExp;
}

let snippets: Snippets | undefined;

/** StackStorm's helper regexes, translated once (they are valid by construction). */
function getSnippets(): Snippets {
  snippets ??= {
    endingTail: compilePython(String.raw`((${PAIRS}\s*)*)$`, { s: true }, "y"),
    pairs: compilePython(PAIRS, { s: true }, "g"),
    optionalFind: compilePython(OPTIONAL, { s: true }, "g"),
    // The two re.sub calls pass no flags: `.` stops at newlines there.
    optionalSub: compilePython(String.raw`(\s*)` + OPTIONAL, {}, "g"),
    requiredSub: compilePython(String.raw`(\s*)` + REQUIRED, {}, "g"),
  };
  return snippets;
}

/** `"".join(groups[from..to])` with unmatched groups as "" (what findall gives). */
function joinGroups(m: RegExpExecArray, from: number, to: number): string {
  let out = "";
  for (let g = from; g <= to; g++) out += m[g] ?? "";
  return out;
}

/** A command after StackStorm's first step: trailing `key=value` pairs cut off. */
export interface PreparedCommand {
  readonly command: string;
  /** `" " + command-without-pairs + " "`: what the format regex runs against. */
  readonly stream: string;
  /** The extra parameters, in order (later keys override). */
  readonly pairs: ReadonlyArray<readonly [string, string]>;
  /** The trailing text the pairs were cut from ("" when none). */
  readonly pairsText: string;
  /** Whether `stream.strip()` is empty (Python whitespace). */
  readonly blank: boolean;
}

/** `match_kv_pairs_at_end`, done once per command: it does not depend on the format. */
export function prepareCommand(command: string): PreparedCommand {
  const pairsText = endingPairs(command);
  const pairs: [string, string][] = [];
  let stream = command;
  if (pairsText) {
    const re = getSnippets().pairs.regex;
    re.lastIndex = 0;
    for (let m = re.exec(pairsText); m; m = re.exec(pairsText)) pairs.push([m[1] ?? "", joinGroups(m, 3, 6)]);
    // Python's str.replace: every occurrence goes, not only the trailing one.
    stream = command.split(pairsText).join("");
  }
  return { command, stream: ` ${stream} `, pairs, pairsText, blank: isBlank(stream) };
}

/**
 * Group 1 of `re.match(r".*?((PAIRS\s*)*)$", command, DOTALL)`. A first pair starts with
 * `^` (position 0) or `\s+`; a success inside a whitespace run implies one at its start, and
 * a pair needs an "=" after its start. So only position 0 and the starts of whitespace runs
 * before the last "=" can give a non-empty answer, tried in order as the lazy `.*?` would.
 */
function endingPairs(command: string): string {
  const lastEquals = command.lastIndexOf("=");
  if (lastEquals < 0) return "";
  const re = getSnippets().endingTail.regex;
  for (let p = 0; p < lastEquals; p++) {
    if (p > 0 && !(PY_SPACE.has(command[p] ?? "") && !PY_SPACE.has(command[p - 1] ?? ""))) continue;
    re.lastIndex = p;
    const m = re.exec(command);
    if (m) return m[1] ?? "";
  }
  return "";
}

/** One regex hit of a format on a command. */
export interface FormatHit {
  /** The parameters, as StackStorm returns them (null values of unmatched groups dropped). */
  readonly params: Record<string, string>;
  /** Characters captured from the command by the format's parameters (not defaults). */
  readonly captured: number;
  /** The text the regex matched (trimmed). */
  readonly text: string;
}

const BEGIN_ANCHORS: ReadonlySet<AtKind> = new Set(["bol", "bos"]);
const END_ANCHORS: ReadonlySet<AtKind> = new Set(["eol", "eos"]);
const SPACE_STAR: PyNode = { t: "repeat", min: 0, max: Infinity, lazy: false, body: { t: "set", neg: false, items: [{ k: "cat", cat: "s" }] } };

/**
 * A format compiled once: the Python regex StackStorm builds, its JavaScript translation
 * (the RegExp itself is created on first use: most formats of a large set are never tried),
 * the defaults of `{{ name = default }}` parameters. Reusable for any command.
 */
export class CompiledFormat {
  /** Parameter (named group) names in Python group order. */
  readonly params: readonly string[];
  /** `{{ name = default }}` parameters, in format order. */
  readonly defaults: ReadonlyArray<readonly [string, string]>;
  /** The names written as `{{ name }}` / `{{ name = default }}` in the format. */
  readonly fields: readonly string[];
  readonly hints: IndexHints;
  /** Python group numbers of the named groups, parallel to `params`. */
  private readonly groupIndex: readonly number[];
  /** Whether StackStorm adds `^\s*` / `\s*$`. */
  private readonly anchored: readonly [boolean, boolean];
  private compiled: RegExp | undefined;
  private iterRegex: RegExp | undefined;

  constructor(readonly format: string) {
    const s = getSnippets();
    this.defaults = findDefaults(format, s);
    const { reg, fields } = substituteParams(format, s);
    this.fields = fields;
    let parsed: PyParsed;
    try {
      const first = parsePython(reg, { s: true });
      this.anchored = [!hasAnchor(first.ast, BEGIN_ANCHORS), !hasAnchor(first.ast, END_ANCHORS)];
      parsed = withAnchors(reg, first, this.anchored);
    } catch (err) {
      throw toFormatError(format, err, reg);
    }
    const named = [...parsed.names].sort((a, b) => a[0] - b[0]);
    this.groupIndex = named.map(([index]) => index);
    this.params = named.map(([, name]) => name);
    this.hints = indexHints(parsed);
    const missing = this.defaults.find(([key]) => !this.params.includes(key));
    if (missing) {
      // The default was found but not substituted (a newline inside {{ }}): StackStorm's
      // `result[name]` then raises KeyError on every match.
      throw new FormatError(format, `parameter ${pyRepr(missing[0])} has a default but is not turned into a group (StackStorm fails with KeyError)`, this.pattern);
    }
  }

  /** The Python regex StackStorm derives from the format (what it passes to re.compile). */
  get pattern(): string {
    const { reg } = substituteParams(this.format, getSnippets());
    return (this.anchored[0] ? BEGIN : "") + reg + (this.anchored[1] ? END : "");
  }

  /**
   * The JavaScript RegExp. Built on first use, from a fresh parse: keeping trees or
   * sources for thousands of formats that are never tried would cost far more memory.
   * Throws FormatError if JavaScript refuses it.
   */
  get regex(): RegExp {
    if (!this.compiled) {
      try {
        const { source, flags } = emitJs(this.parseFinal());
        this.compiled = newRegExp(source, flags);
      } catch (err) {
        throw toFormatError(this.format, err, this.pattern);
      }
    }
    return this.compiled;
  }

  /** The parse of the final pattern (valid: the constructor parsed it already). */
  private parseFinal(): PyParsed {
    const { reg } = substituteParams(this.format, getSnippets());
    return withAnchors(reg, parsePython(reg, { s: true }), this.anchored);
  }

  /** Like `get_extracted_param_value`: the parameters, or throws ParseMismatchError/NoValueError. */
  parse(command: string): Record<string, string> {
    const prepared = prepareCommand(command);
    const m = this.regex.exec(prepared.stream);
    if (!m) throw new ParseMismatchError(command, this.format);
    const hit = this.hit(m, prepared);
    if (!hit) throw new NoValueError();
    return hit.params;
  }

  /** Like `get_multiple_extracted_param_value`: one parameter set per regex hit (finditer). */
  parseMultiple(command: string): Record<string, string>[] {
    const prepared = prepareCommand(command);
    const hits: Record<string, string>[] = [];
    for (const m of this.iterate(prepared)) {
      const hit = this.hit(m, prepared);
      if (!hit) throw new NoValueError();
      hits.push(hit.params);
    }
    return hits;
  }

  /** The fast path for matching: null when StackStorm would raise ParseException. */
  run(prepared: PreparedCommand): FormatHit | null {
    const m = this.regex.exec(prepared.stream);
    return m ? this.hit(m, prepared) : null;
  }

  /** Every hit (finditer); null when one is a hit StackStorm would reject (its loop raises). */
  runAll(prepared: PreparedCommand): FormatHit[] | null {
    const hits: FormatHit[] = [];
    for (const m of this.iterate(prepared)) {
      const hit = this.hit(m, prepared);
      if (!hit) return null;
      hits.push(hit);
    }
    return hits;
  }

  /**
   * A regex match as a hit, or null for StackStorm's "No value supplied" (possible only
   * for a blank command). The parameters are assembled when first read: while matching,
   * only the captured length matters.
   */
  private hit(m: RegExpExecArray, prepared: PreparedCommand): FormatHit | null {
    let captured = 0;
    for (const index of this.groupIndex) captured += m[index]?.length ?? 0;
    if (this.format && prepared.blank && !this.values(m, prepared).values.some((v) => v)) return null;
    return new Hit(this, m, prepared, captured);
  }

  /**
   * A command this format matches, built from its regex: `{{ }}` parameters take
   * `sample(name, i)` (default `x1`, `x2`…), optional parts appear only when they hold a
   * parameter, alternations take their first branch. For tests, benchmarks and examples.
   */
  exampleCommand(sample: (name: string, index: number) => string = (_n, i) => `x${i + 1}`): string {
    const parsed = this.parseFinal();
    return exampleText(parsed, new Set(this.fields), sample).trim();
  }

  private *iterate(prepared: PreparedCommand): Generator<RegExpExecArray> {
    this.iterRegex ??= new RegExp(this.regex.source, `${this.regex.flags}g`);
    const re = this.iterRegex;
    re.lastIndex = 0;
    for (let m = re.exec(prepared.stream); m; m = re.exec(prepared.stream)) {
      // After an empty match, step one code point on (the `u` flag does the stepping).
      if (m[0] === "") re.lastIndex = advanceIndex(prepared.stream, re.lastIndex);
      yield m;
    }
  }

  /**
   * `match_params_in_stream`: groups, then defaults, then the trailing pairs. Python's
   * result dict as parallel arrays (a handful of keys: linear lookups are fastest).
   */
  values(m: RegExpExecArray, prepared: PreparedCommand): { keys: string[]; values: (string | null)[] } {
    const keys: string[] = this.params.slice();
    const values: (string | null)[] = this.groupIndex.map((index) => m[index] ?? null);
    // Python's `matched or default`: an empty capture also takes the default.
    for (const [key, fallback] of this.defaults) {
      const i = keys.indexOf(key);
      values[i] = values[i] || fallback;
    }
    for (const [key, value] of prepared.pairs) {
      const i = keys.indexOf(key);
      if (i >= 0) values[i] = value;
      else {
        keys.push(key);
        values.push(value);
      }
    }
    return { keys, values };
  }
}

/** A hit whose parameters are built on first read. */
class Hit implements FormatHit {
  private cached: Record<string, string> | undefined;

  constructor(
    private readonly format: CompiledFormat,
    private readonly m: RegExpExecArray,
    private readonly prepared: PreparedCommand,
    readonly captured: number,
  ) {}

  get params(): Record<string, string> {
    if (!this.cached) {
      const { keys, values } = this.format.values(this.m, this.prepared);
      this.cached = toRecord(keys, values);
    }
    return this.cached;
  }

  get text(): string {
    return this.m[0].trim();
  }
}

/** A plain object in Python's key order, without null values; "__proto__" stays a key. */
function toRecord(keys: string[], values: (string | null)[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < keys.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) continue;
    const key = keys[i] ?? "";
    if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
  return out;
}

/**
 * The parse of `^\s*` + reg + `\s*$` (whichever StackStorm adds), built from the parse of
 * `reg` instead of parsing again. Same tree, same groups; the one error the concatenation
 * can introduce (global flags no longer at the start) is raised as CPython would. Under a
 * global verbose flag the suffix could fall into a trailing `#` comment: parse the text then.
 */
function withAnchors(reg: string, parsed: PyParsed, [begin, end]: readonly [boolean, boolean]): PyParsed {
  if (!begin && !end) return parsed;
  if (begin && parsed.globalFlagsAt !== null) throw new PyRegexError("global flags not at the start of the expression", BEGIN.length + parsed.globalFlagsAt);
  if (parsed.flags.x) return parsePython((begin ? BEGIN : "") + reg + (end ? END : ""), { s: true });
  const prefix: PyNode[] = begin ? [{ t: "at", at: "bol" }, SPACE_STAR] : [];
  const suffix: PyNode[] = end ? [SPACE_STAR, { t: "at", at: "eol" }] : [];
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


function advanceIndex(s: string, index: number): number {
  const cp = s.codePointAt(index);
  return index + (cp !== undefined && cp > 0xffff ? 2 : 1);
}

/** `re.findall(optional, format, DOTALL)` → [name, default]. */
function findDefaults(format: string, s: Snippets): [string, string][] {
  const out: [string, string][] = [];
  if (!format.includes("{{")) return out;
  const re = s.optionalFind.regex;
  re.lastIndex = 0;
  for (let m = re.exec(format); m; m = re.exec(format)) out.push([m[1] ?? "", joinGroups(m, 2, 5)]);
  return out;
}

/** The two `re.sub` calls that turn `{{ … }}` into named groups; also lists the names. */
function substituteParams(format: string, s: Snippets): { reg: string; fields: string[] } {
  const fields: string[] = [];
  if (!format.includes("{{")) return { reg: format, fields };
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

function toFormatError(format: string, err: unknown, pattern: string): FormatError {
  if (err instanceof FormatError) return err;
  if (err instanceof PyRegexError) return new FormatError(format, `Python's re rejects the pattern StackStorm builds: ${err.message}`, pattern);
  if (err instanceof UnsupportedRegexError) return new FormatError(format, `not supported by the local matcher: ${err.message}`, pattern);
  return new FormatError(format, String(err), pattern);
}

// ---------------------------------------------------------------------------------------
// Public helpers
// ---------------------------------------------------------------------------------------

const cache = new Map<string, CompiledFormat | FormatError>();
const CACHE_LIMIT = 50000;

/** Compiles a format once (cached); throws FormatError when it cannot be used. */
export function compileFormat(format: string): CompiledFormat {
  let entry = cache.get(format);
  if (entry === undefined) {
    try {
      entry = new CompiledFormat(format);
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      entry = err;
    }
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(format, entry);
  }
  if (entry instanceof FormatError) throw entry;
  return entry;
}

/**
 * `ActionAliasFormatParser(format, command).get_extracted_param_value()`.
 * Throws ParseMismatchError / NoValueError (StackStorm's ParseException) or FormatError.
 */
export function parseFormat(format: string, command: string): Record<string, string> {
  return compileFormat(format).parse(command);
}

/** `get_multiple_extracted_param_value()`: one parameter set per hit (match_multiple). */
export function parseMultiple(format: string, command: string): Record<string, string>[] {
  return compileFormat(format).parseMultiple(command);
}
