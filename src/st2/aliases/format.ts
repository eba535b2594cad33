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
 * compiled format keeps only what matching and the index need (group names, packed index
 * hints, a few flags); common formats are read without building a parse tree at all
 * (`template.ts`), and the RegExp is built, from a fresh parse, on first use.
 */
import { prepareCommand, type PreparedCommand } from "./command.ts";
import { FormatError, NoValueError, ParseMismatchError } from "./errors.ts";
import { exampleText } from "./example.ts";
import { indexHints, unpackHints, type IndexHints } from "./hints.ts";
import { emitJs, newRegExp } from "./pyregex/emit.ts";
import { catastrophicRepeat } from "./pyregex/risk.ts";
import { pyRepr, PyRegexError, UnsupportedRegexError } from "./pyregex/errors.ts";
import type { PyParsed } from "./pyregex/ast.ts";
import { anchoredPattern, expandFormat, findDefaults, parseFinal, readRegex, type RegexFacts } from "./template.ts";

// The errors are part of this module's contract; they live in errors.ts only for size.
export { AliasParseError, FormatError, NoValueError, ParseMismatchError } from "./errors.ts";

/** One regex hit of a format on a command. */
export interface FormatHit {
  /** The parameters, as StackStorm returns them (null values of unmatched groups dropped). */
  readonly params: Record<string, string>;
  /** Characters captured from the command by the format's parameters (not defaults). */
  readonly captured: number;
  /** The text the regex matched (trimmed). */
  readonly text: string;
}

/** Python group names and numbers of a format's parameters; equal tables are shared. */
interface GroupTable {
  /** Parameter (named group) names in Python group order. */
  readonly names: readonly string[];
  /** Their Python group numbers, parallel to `names`. */
  readonly groups: readonly number[];
}

const NO_DEFAULTS: readonly string[] = [];
/** Bit set of `CompiledFormat.anchors`. */
const BEGIN_ADDED = 1;
const END_ADDED = 2;

/**
 * A format compiled once: what matching it needs and nothing more. The Python regex is
 * re-derived from the format when asked for; the JavaScript RegExp is built on first use
 * (most formats of a large set are never tried), from a fresh parse. Reusable for any
 * command.
 */
export class CompiledFormat {
  /** Substrings every match contains, in order (IndexHints.literals): a cheap pre-filter. */
  readonly literals: readonly string[];
  /** IndexHints.paths, packed (see PackedHints). */
  private readonly paths: string;
  private readonly table: GroupTable;
  /**
   * `{{ name = default }}` parameters in format order, flat: name, default, name, …
   * Checked at build, then re-read from the format on first use: few formats are ever run.
   */
  private defaultList: readonly string[] | undefined;
  /** Which of `^\s*` / `\s*$` StackStorm adds (BEGIN_ADDED | END_ADDED). */
  private readonly anchors: number;
  private compiled: RegExp | undefined;
  private iterRegex: RegExp | undefined;

  /** Throws FormatError when the format cannot be used. */
  constructor(readonly format: string) {
    const defaults = findDefaults(format);
    if (defaults.length === 0) this.defaultList = NO_DEFAULTS;
    const { reg } = expandFormat(format);
    let facts: RegexFacts;
    try {
      facts = readRegex(reg);
    } catch (err) {
      throw toFormatError(format, err, reg);
    }
    const risk = catastrophicRepeat(facts.top);
    if (risk) throw new FormatError(format, `${risk} can take exponential time on chat input; st2bot refuses such formats`, reg);
    this.anchors = (facts.begin ? BEGIN_ADDED : 0) | (facts.end ? END_ADDED : 0);
    this.table = groupTable(facts.names, facts.groups);
    ({ literals: this.literals, paths: this.paths } = indexHints(facts.top, facts.flags));
    for (let i = 0; i < defaults.length; i += 2) {
      const name = defaults[i] ?? "";
      if (facts.names.includes(name)) continue;
      // The default was found but not substituted (a newline inside {{ }}): StackStorm's
      // `result[name]` then raises KeyError on every match.
      throw new FormatError(format, `parameter ${pyRepr(name)} has a default but is not turned into a group (StackStorm fails with KeyError)`, this.pattern);
    }
  }

  /** What the index files the format under (built on each read). */
  get hints(): IndexHints {
    return unpackHints({ literals: this.literals, paths: this.paths });
  }

  /**
   * The hints the index files the format under, packed: leading-word paths as one string
   * (paths separated by "\n", words by " "), and the word it needs when there is no path
   * ("" when none, or when there are paths).
   */
  get filing(): { paths: string; word: string } {
    return { paths: this.paths, word: this.paths ? "" : this.hints.word };
  }

  /** Parameter (named group) names in Python group order. */
  get params(): readonly string[] {
    return this.table.names;
  }

  /** `{{ name = default }}` parameters, in format order. */
  get defaults(): [string, string][] {
    const list = this.defaultPairs();
    const out: [string, string][] = [];
    for (let i = 0; i < list.length; i += 2) out.push([list[i] ?? "", list[i + 1] ?? ""]);
    return out;
  }

  private defaultPairs(): readonly string[] {
    this.defaultList ??= findDefaults(this.format);
    return this.defaultList;
  }

  /** The names written as `{{ name }}` / `{{ name = default }}` in the format (re-derived). */
  get fields(): string[] {
    return expandFormat(this.format).fields;
  }

  /** The Python regex StackStorm derives from the format (what it passes to re.compile). */
  get pattern(): string {
    return anchoredPattern(expandFormat(this.format).reg, (this.anchors & BEGIN_ADDED) !== 0, (this.anchors & END_ADDED) !== 0);
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

  /** The parse of the final pattern (valid: the constructor read it already). */
  private parseFinal(): PyParsed {
    return parseFinal(expandFormat(this.format).reg, (this.anchors & BEGIN_ADDED) !== 0, (this.anchors & END_ADDED) !== 0);
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
    for (const index of this.table.groups) captured += m[index]?.length ?? 0;
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
    const keys: string[] = this.table.names.slice();
    const values: (string | null)[] = this.table.groups.map((index) => m[index] ?? null);
    // Python's `matched or default`: an empty capture also takes the default.
    const defaults = this.defaultPairs();
    for (let d = 0; d < defaults.length; d += 2) {
      const i = keys.indexOf(defaults[d] ?? "");
      values[i] = values[i] || (defaults[d + 1] ?? "");
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

function advanceIndex(s: string, index: number): number {
  const cp = s.codePointAt(index);
  return index + (cp !== undefined && cp > 0xffff ? 2 : 1);
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
/** Group tables by content: most formats of an install share a handful of them. */
const tables = new Map<string, GroupTable>();

function groupTable(names: string[], groups: number[]): GroupTable {
  const key = `${groups.join(",")} ${names.join(" ")}`;
  let table = tables.get(key);
  if (!table) {
    table = { names, groups };
    tables.set(key, table);
  }
  return table;
}

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
    if (cache.size >= CACHE_LIMIT) {
      cache.clear();
      tables.clear();
    }
    cache.set(format, entry);
  }
  if (entry instanceof FormatError) throw entry;
  return entry;
}

/**
 * The format compiled, from the cache when it is there, else compiled now and *not* cached
 * (`cached` says which): the alias index reads what it files a format under from it, then
 * drops it until a command tries the format. Throws FormatError.
 */
export function compiledOrNew(format: string): { compiled: CompiledFormat; cached: boolean } {
  const entry = cache.get(format);
  if (entry instanceof FormatError) throw entry;
  if (entry) return { compiled: entry, cached: true };
  return { compiled: new CompiledFormat(format), cached: false };
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
