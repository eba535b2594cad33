/**
 * StackStorm's action-alias format parser (st2common `ActionAliasFormatParser`), reproduced
 * for local matching.
 *
 * StackStorm turns a format such as `run {{cmd}} on {{hosts}}` into a *Python* regular
 * expression with a handful of `re.sub` calls, then matches the command against it. The
 * literal text of a format is never escaped, so real formats are full Python regexes
 * (alternation, optional groups, `(?P<name>...)`). To give the same verdict as the server,
 * this module parses Python `re` syntax itself (mirroring CPython 3.11's `re._parser`,
 * including its errors), answers the structural questions StackStorm asks of the parse tree
 * (`search_regex_tokens`), and emits an equivalent JavaScript RegExp (`u` flag) with
 * Python's meaning of `\s`, `\w`, `\d`, `\b`, `$`, `.` and group names made explicit.
 * StackStorm's own helper regexes (the trailing `key=value` pairs, `{{ name = default }}`)
 * go through the same translator so every step keeps Python semantics.
 */

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

/** A Python `re.error` (message as CPython words it, with the position). */
export class PyRegexError extends Error {
  constructor(
    readonly msg: string,
    /** Where CPython reports it (its compiler's errors carry no position). */
    readonly pos?: number,
  ) {
    super(pos === undefined ? msg : `${msg} at position ${pos}`);
    this.name = new.target.name;
  }
}

/** Valid Python, but not something the local matcher can reproduce in JavaScript. */
export class UnsupportedRegexError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

// ---------------------------------------------------------------------------------------
// Python regex syntax tree
// ---------------------------------------------------------------------------------------

/** The inline flags that change how a Python pattern reads. */
export interface PyFlags {
  i: boolean;
  m: boolean;
  s: boolean;
  x: boolean;
  a: boolean;
}
type FlagName = keyof PyFlags;

type Category = "d" | "D" | "w" | "W" | "s" | "S";
type SetItem = { k: "cp"; cp: number } | { k: "range"; lo: number; hi: number } | { k: "cat"; cat: Category };
export type AtKind = "bol" | "bos" | "eol" | "eos" | "b" | "B";

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
export type PySeq = PyNode[];

/** [min, max] width of a sub-pattern, as `SubPattern.getwidth()` computes it. */
type Width = [number, number];

const MAXREPEAT = 4294967295; // CPython's sre MAXREPEAT (2**32 - 1)
const SPECIAL_CHARS = new Set(".\\[{()*+?^$|");
const REPEAT_CHARS = new Set("*+?{");
const VERBOSE_WS = new Set(" \t\n\r\v\f");
const DIGITS = new Set("0123456789");
const OCTDIGITS = new Set("01234567");
const HEXDIGITS = new Set("0123456789abcdefABCDEF");
const ASCII_LETTER = /^[A-Za-z]$/;
const ESCAPES: Record<string, number> = { "\\a": 7, "\\b": 8, "\\f": 12, "\\n": 10, "\\r": 13, "\\t": 9, "\\v": 11, "\\\\": 92 };
const CATEGORY_ESCAPES: Record<string, Category> = { "\\d": "d", "\\D": "D", "\\s": "s", "\\S": "S", "\\w": "w", "\\W": "W" };
const AT_ESCAPES: Record<string, AtKind> = { "\\A": "bos", "\\b": "b", "\\B": "B", "\\Z": "eos" };
const FLAG_CHARS = new Set("iLmsxatu");
/** Python's `str.isidentifier()`, which group names must satisfy. */
const PY_IDENTIFIER = /^[\p{XID_Start}_]\p{XID_Continue}*$/u;

/** `re._parser.Tokenizer`: one token is a code point, or a backslash and the next one. */
class Source {
  /** The pattern, split into code points only when it holds astral characters. */
  private readonly chars: string | string[];
  private index = 0;
  private nextLen = 0;
  next: string | null = null;

  constructor(pattern: string) {
    this.chars = /[\uD800-\uDFFF]/.test(pattern) ? Array.from(pattern) : pattern;
    this.advance();
  }

  private advance(): void {
    const c = this.chars[this.index];
    if (c === undefined) {
      this.next = null;
      this.nextLen = 0;
      return;
    }
    if (c === "\\") {
      const d = this.chars[this.index + 1];
      if (d === undefined) throw new PyRegexError("bad escape (end of pattern)", this.chars.length - 1);
      this.next = c + d;
      this.nextLen = 2;
      this.index += 2;
    } else {
      this.next = c;
      this.nextLen = 1;
      this.index += 1;
    }
  }

  match(token: string): boolean {
    if (this.next !== token) return false;
    this.advance();
    return true;
  }

  get(): string | null {
    const token = this.next;
    this.advance();
    return token;
  }

  getwhile(n: number, charset: Set<string>): string {
    let result = "";
    for (let k = 0; k < n && this.next !== null && charset.has(this.next); k++) result += this.get();
    return result;
  }

  getuntil(terminator: string, name: string): string {
    let result = "";
    for (;;) {
      const c = this.get();
      if (c === null) {
        if (!result) throw this.error(`missing ${name}`);
        throw this.error(`missing ${terminator}, unterminated name`, Array.from(result).length);
      }
      if (c === terminator) {
        if (!result) throw this.error(`missing ${name}`, 1);
        return result;
      }
      result += c;
    }
  }

  tell(): number {
    return this.index - this.nextLen;
  }

  seek(index: number): void {
    this.index = index;
    this.advance();
  }

  error(msg: string, offset = 0): PyRegexError {
    return new PyRegexError(msg, this.tell() - offset);
  }
}

/** Python's `repr()` of a short string, for error messages worded like CPython's. */
function pyRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  const body = s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\t/g, "\\t").replace(/\r/g, "\\r");
  return quote + (quote === "'" ? body.replace(/'/g, "\\'") : body) + quote;
}

/** `re._parser.State`: group numbering, names and widths. */
class ParseState {
  flags: PyFlags;
  /** Per group number (0 is the whole match): whether the group is closed yet. */
  readonly groupClosed: boolean[] = [false];
  /** Closed groups' nodes, for the width of a back-reference (measured only when needed). */
  readonly groupNodes: Extract<PyNode, { t: "group" }>[] = [];
  readonly groupNames = new Map<string, number>();
  lookbehindGroups: number | null = null;
  /** Where the first global flags group `(?i)` started, if any. */
  globalFlagsAt: number | null = null;

  constructor(flags: PyFlags) {
    this.flags = flags;
  }

  get groups(): number {
    return this.groupClosed.length;
  }

  opengroup(name: string | null, src: Source): number {
    const gid = this.groups;
    this.groupClosed.push(false);
    if (name !== null) {
      const previous = this.groupNames.get(name);
      if (previous !== undefined) {
        throw src.error(`redefinition of group name ${pyRepr(name)} as group ${gid}; was group ${previous}`, Array.from(name).length + 1);
      }
      this.groupNames.set(name, gid);
    }
    return gid;
  }

  checkgroup(gid: number): boolean {
    return gid < this.groups && this.groupClosed[gid] === true;
  }

  checklookbehindgroup(gid: number, src: Source): void {
    if (this.lookbehindGroups === null) return;
    if (!this.checkgroup(gid)) throw src.error("cannot refer to an open group");
    if (gid >= this.lookbehindGroups) throw src.error("cannot refer to group defined in the same lookbehind subpattern");
  }
}

/** `SubPattern.getwidth()`. */
function widthOf(seq: PySeq, state: ParseState): Width {
  let lo = 0;
  let hi = 0;
  for (const n of seq) {
    const [i, j] = nodeWidth(n, state);
    lo += i;
    hi += j;
  }
  return [lo, hi];
}

function nodeWidth(n: PyNode, state: ParseState): Width {
  switch (n.t) {
    case "lit":
    case "any":
    case "set":
      return [1, 1];
    case "at":
    case "look":
      return [0, 0];
    case "group":
      // Memoised: nested groups would otherwise be measured once per enclosing group.
      n.width ??= widthOf(n.body, state);
      return n.width;
    case "alt": {
      let lo = Infinity;
      let hi = 0;
      for (const b of n.branches) {
        const [l, h] = widthOf(b, state);
        lo = Math.min(lo, l);
        hi = Math.max(hi, h);
      }
      return [lo, hi];
    }
    case "repeat": {
      const [i, j] = nodeWidth(n.body, state);
      const hi = n.max === Infinity ? (j ? Infinity : 0) : j * n.max;
      return [i * n.min, hi];
    }
    case "ref": {
      const group = state.groupNodes[n.index];
      return group ? nodeWidth(group, state) : [0, 0];
    }
  }
}

/** A recursive-descent parser with the structure, and the errors, of CPython's `re._parser`. */
class PyParser {
  private readonly src: Source;
  readonly state: ParseState;

  constructor(pattern: string, flags: PyFlags) {
    this.src = new Source(pattern);
    this.state = new ParseState(flags);
  }

  parse(): PySeq {
    const seq = this.parseSub(this.state.flags.x, 0);
    if (this.src.next !== null) throw this.src.error("unbalanced parenthesis");
    return seq;
  }

  /** `_parse_sub`: an alternation `a|b|c`. */
  private parseSub(verbose: boolean, nested: number): PySeq {
    const items: PySeq[] = [];
    for (;;) {
      items.push(this.parseSeq(verbose, nested + 1, nested === 0 && items.length === 0));
      if (!this.src.match("|")) break;
      if (nested === 0) verbose = this.state.flags.x;
    }
    if (items.length === 1) return items[0] ?? [];
    return [{ t: "alt", branches: items }];
  }

  /** `_parse`: a sequence up to `|`, `)` or the end. */
  private parseSeq(verbose: boolean, nested: number, first: boolean): PySeq {
    const seq: PySeq = [];
    const src = this.src;
    for (;;) {
      const token = src.next;
      if (token === null || token === "|" || token === ")") break;
      src.get();
      if (verbose) {
        if (VERBOSE_WS.has(token)) continue;
        if (token === "#") {
          for (let c = src.get(); c !== null && c !== "\n"; c = src.get());
          continue;
        }
      }
      if (token.startsWith("\\")) seq.push(this.escape(token));
      else if (!SPECIAL_CHARS.has(token)) seq.push({ t: "lit", cp: token.codePointAt(0) ?? 0 });
      else if (token === "[") seq.push(this.parseSet());
      else if (REPEAT_CHARS.has(token)) this.parseRepeat(token, seq);
      else if (token === ".") seq.push({ t: "any" });
      else if (token === "(") {
        const flagsOnly = this.parseGroup(seq, verbose, nested, first);
        if (flagsOnly) verbose = this.state.flags.x;
      } else if (token === "^") seq.push({ t: "at", at: "bol" });
      else if (token === "$") seq.push({ t: "at", at: "eol" });
    }
    return seq;
  }

  /** A quantifier: applies to the last item of `seq`, or is a literal `{`. */
  private parseRepeat(token: string, seq: PySeq): void {
    const src = this.src;
    const here = src.tell();
    let min = 0;
    let max = Infinity;
    if (token === "?") max = 1;
    else if (token === "+") min = 1;
    else if (token === "{") {
      if (src.next === "}") {
        seq.push({ t: "lit", cp: 0x7b });
        return;
      }
      let lo = "";
      let hi = "";
      while (src.next !== null && DIGITS.has(src.next)) lo += src.get();
      if (src.match(",")) {
        while (src.next !== null && DIGITS.has(src.next)) hi += src.get();
      } else hi = lo;
      if (!src.match("}")) {
        seq.push({ t: "lit", cp: 0x7b });
        src.seek(here);
        return;
      }
      if (lo) {
        min = Number(lo);
        if (min >= MAXREPEAT) throw new PyRegexError("the repetition number is too large", here);
      }
      if (hi) {
        max = Number(hi);
        if (max >= MAXREPEAT) throw new PyRegexError("the repetition number is too large", here);
        if (max < min) throw src.error("min repeat greater than max repeat", src.tell() - here);
      }
    }
    const item = seq[seq.length - 1];
    if (item === undefined || item.t === "at") throw src.error("nothing to repeat", src.tell() - here + 1);
    if (item.t === "repeat") throw src.error("multiple repeat", src.tell() - here + 1);
    let lazy = false;
    if (src.match("?")) lazy = true;
    else if (src.next === "+") {
      throw new UnsupportedRegexError("possessive quantifiers (*+, ++, ?+) exist only from Python 3.11 (older Pythons reject them as 'multiple repeat')");
    }
    seq[seq.length - 1] = { t: "repeat", min, max, lazy, body: item };
  }

  /** `(` … `)`: groups, lookarounds, comments, inline flags. Returns true for global flags. */
  private parseGroup(seq: PySeq, verbose: boolean, nested: number, first: boolean): boolean {
    const src = this.src;
    const start = src.tell() - 1;
    let capture = true;
    let name: string | null = null;
    let on: Partial<PyFlags> = {};
    let off: Partial<PyFlags> = {};
    if (src.match("?")) {
      const char = src.get();
      if (char === null) throw src.error("unexpected end of pattern");
      if (char === "P") {
        if (src.match("<")) {
          name = src.getuntil(">", "group name");
          this.checkGroupName(name);
        } else if (src.match("=")) {
          this.parseNamedRef(seq);
          return false;
        } else {
          const c = src.get();
          if (c === null) throw src.error("unexpected end of pattern");
          throw src.error(`unknown extension ?P${c}`, c.length + 2);
        }
      } else if (char === ":") {
        capture = false;
      } else if (char === "#") {
        for (;;) {
          if (src.next === null) throw src.error("missing ), unterminated comment", src.tell() - start);
          if (src.get() === ")") return false;
        }
      } else if (char === "=" || char === "!" || char === "<") {
        this.parseLook(seq, char, verbose, nested, start);
        return false;
      } else if (char === "(") {
        throw new UnsupportedRegexError("conditional groups (?(id)yes|no) have no JavaScript equivalent");
      } else if (char === ">") {
        throw new UnsupportedRegexError("atomic groups (?>...) exist only from Python 3.11 (older Pythons reject them)");
      } else if (FLAG_CHARS.has(char) || char === "-") {
        const flags = this.parseFlags(char);
        if (flags === null) {
          if (!first || seq.length > 0) throw src.error("global flags not at the start of the expression", src.tell() - start);
          this.state.globalFlagsAt ??= start;
          return true;
        }
        [on, off] = flags;
        capture = false;
      } else {
        throw src.error(`unknown extension ?${char}`, char.length + 1);
      }
    }
    const index = capture ? this.openGroup(name) : null;
    const subVerbose = (verbose || on.x === true) && off.x !== true;
    const body = this.parseSub(subVerbose, nested + 1);
    if (!src.match(")")) throw src.error("missing ), unterminated subpattern", src.tell() - start);
    const node: Extract<PyNode, { t: "group" }> = { t: "group", index, on, off, body };
    if (index !== null) {
      this.state.groupClosed[index] = true;
      this.state.groupNodes[index] = node;
    }
    seq.push(node);
    return false;
  }

  private openGroup(name: string | null): number {
    return this.state.opengroup(name, this.src);
  }

  private checkGroupName(name: string): void {
    if (!PY_IDENTIFIER.test(name)) throw this.src.error(`bad character in group name ${pyRepr(name)}`, Array.from(name).length + 1);
  }

  /** `(?P=name)`. */
  private parseNamedRef(seq: PySeq): void {
    const src = this.src;
    const name = src.getuntil(")", "group name");
    this.checkGroupName(name);
    const gid = this.state.groupNames.get(name);
    if (gid === undefined) throw src.error(`unknown group name ${pyRepr(name)}`, Array.from(name).length + 1);
    if (!this.state.checkgroup(gid)) throw src.error("cannot refer to an open group", Array.from(name).length + 1);
    this.state.checklookbehindgroup(gid, src);
    seq.push({ t: "ref", index: gid });
  }

  /** `(?=…)`, `(?!…)`, `(?<=…)`, `(?<!…)`; look-behinds must be fixed-width in Python. */
  private parseLook(seq: PySeq, char: string, verbose: boolean, nested: number, start: number): void {
    const src = this.src;
    let kind = char;
    let behind = false;
    let outerLookbehind: number | null = null;
    if (char === "<") {
      const c = src.get();
      if (c === null) throw src.error("unexpected end of pattern");
      if (c !== "=" && c !== "!") throw src.error(`unknown extension ?<${c}`, c.length + 2);
      kind = c;
      behind = true;
      outerLookbehind = this.state.lookbehindGroups;
      if (outerLookbehind === null) this.state.lookbehindGroups = this.state.groups;
    }
    const body = this.parseSub(verbose, nested + 1);
    if (behind && outerLookbehind === null) this.state.lookbehindGroups = null;
    if (!src.match(")")) throw src.error("missing ), unterminated subpattern", src.tell() - start);
    if (behind) {
      const [lo, hi] = widthOf(body, this.state);
      // CPython's compiler refuses variable-width look-behinds; JavaScript would accept them.
      if (lo !== hi) throw new PyRegexError("look-behind requires fixed-width pattern");
    }
    seq.push({ t: "look", behind, neg: kind === "!", body });
  }

  /** `_parse_flags`: `(?imsx)` (global, returns null) or `(?i-m:` (scoped). */
  private parseFlags(first: string): [Partial<PyFlags>, Partial<PyFlags>] | null {
    const src = this.src;
    const on: Partial<PyFlags> = {};
    const off: Partial<PyFlags> = {};
    let char: string | null = first;
    let typeFlag: string | null = null;
    if (char !== "-") {
      for (;;) {
        if (char === "L") throw src.error("bad inline flags: cannot use 'L' flag with a str pattern");
        if (char === "t") throw new UnsupportedRegexError("the TEMPLATE flag (?t) is not supported");
        if (char === "a" || char === "u") {
          if (typeFlag !== null && typeFlag !== char) throw src.error("bad inline flags: flags 'a', 'u' and 'L' are incompatible");
          typeFlag = char;
        }
        setFlag(on, char);
        char = src.get();
        if (char === null) throw src.error("missing -, : or )");
        if (char === ")" || char === "-" || char === ":") break;
        if (!FLAG_CHARS.has(char)) throw src.error(/\p{L}/u.test(char) ? "unknown flag" : "missing -, : or )", char.length);
      }
    }
    if (char === ")") {
      this.applyGlobalFlags(on, typeFlag);
      return null;
    }
    if (char === "-") {
      char = src.get();
      if (char === null) throw src.error("missing flag");
      if (!FLAG_CHARS.has(char)) throw src.error(/\p{L}/u.test(char) ? "unknown flag" : "missing flag", char.length);
      for (;;) {
        if (char === "a" || char === "u" || char === "L") throw src.error("bad inline flags: cannot turn off flags 'a', 'u' and 'L'");
        if (char === "t") throw new UnsupportedRegexError("the TEMPLATE flag (?t) is not supported");
        setFlag(off, char);
        char = src.get();
        if (char === null) throw src.error("missing :");
        if (char === ":") break;
        if (!FLAG_CHARS.has(char)) throw src.error(/\p{L}/u.test(char) ? "unknown flag" : "missing :", char.length);
      }
    }
    for (const k of Object.keys(on) as FlagName[]) {
      if (off[k]) throw src.error("bad inline flags: flag turned on and off", 1);
    }
    return [on, off];
  }

  private applyGlobalFlags(on: Partial<PyFlags>, typeFlag: string | null): void {
    const flags = this.state.flags;
    if (typeFlag === "u" && flags.a) throw new PyRegexError("ASCII and UNICODE flags are incompatible");
    this.state.flags = { ...flags, ...on };
  }

  /** `_escape`: an escape outside a character class. */
  private escape(token: string): PyNode {
    const src = this.src;
    const cat = CATEGORY_ESCAPES[token];
    if (cat) return { t: "set", neg: false, items: [{ k: "cat", cat }] };
    const at = AT_ESCAPES[token];
    if (at) return { t: "at", at };
    const code = ESCAPES[token];
    if (code !== undefined) return { t: "lit", cp: code };
    const c = token.slice(1);
    const numeric = this.numericEscape(token, c, false);
    if (numeric) return numeric;
    if (c === "0") {
      const digits = "0" + src.getwhile(2, OCTDIGITS);
      return { t: "lit", cp: parseInt(digits, 8) };
    }
    if (DIGITS.has(c)) return this.groupRefOrOctal(token);
    if (ASCII_LETTER.test(c)) throw src.error(`bad escape ${token}`, token.length);
    return { t: "lit", cp: c.codePointAt(0) ?? 0 };
  }

  /** `\1`…`\99` are group references unless three octal digits make an octal escape. */
  private groupRefOrOctal(token: string): PyNode {
    const src = this.src;
    let escape = token;
    if (src.next !== null && DIGITS.has(src.next)) {
      escape += src.get();
      const d1 = escape[1] ?? "";
      const d2 = escape[2] ?? "";
      if (OCTDIGITS.has(d1) && OCTDIGITS.has(d2) && src.next !== null && OCTDIGITS.has(src.next)) {
        escape += src.get();
        const value = parseInt(escape.slice(1), 8);
        if (value > 0o377) throw src.error(`octal escape value ${escape} outside of range 0-0o377`, escape.length);
        return { t: "lit", cp: value };
      }
    }
    const group = Number(escape.slice(1));
    if (group < this.state.groups) {
      if (!this.state.checkgroup(group)) throw src.error("cannot refer to an open group", escape.length);
      this.state.checklookbehindgroup(group, src);
      return { t: "ref", index: group };
    }
    throw src.error(`invalid group reference ${group}`, escape.length - 1);
  }

  /** `\xhh`, `\uhhhh`, `\Uhhhhhhhh`, `\N{…}`: shared by both escape contexts. */
  private numericEscape(token: string, c: string, inClass: boolean): PyNode | null {
    const src = this.src;
    const sized: Record<string, number> = { x: 2, u: 4, U: 8 };
    const size = sized[c];
    if (size !== undefined) {
      const digits = src.getwhile(size, HEXDIGITS);
      const escape = token + digits;
      if (digits.length !== size) throw src.error(`incomplete escape ${escape}`, escape.length);
      const cp = parseInt(digits, 16);
      if (cp > 0x10ffff) throw src.error(`bad escape ${escape}`, escape.length);
      return { t: "lit", cp };
    }
    if (c === "N") {
      throw new UnsupportedRegexError(`named Unicode escapes (\\N{...})${inClass ? " in a character class" : ""} are not supported`);
    }
    return null;
  }

  /** `[…]`: a character class, with Python's rules (`]` first is literal, no nesting). */
  private parseSet(): PyNode {
    const src = this.src;
    const here = src.tell() - 1;
    const items: SetItem[] = [];
    const negate = src.match("^");
    for (;;) {
      const token = src.get();
      if (token === null) throw src.error("unterminated character set", src.tell() - here);
      if (token === "]" && items.length > 0) break;
      const code1 = token.startsWith("\\") ? this.classEscape(token) : ({ k: "cp", cp: token.codePointAt(0) ?? 0 } as SetItem);
      if (!src.match("-")) {
        items.push(code1);
        continue;
      }
      const that = src.get();
      if (that === null) throw src.error("unterminated character set", src.tell() - here);
      if (that === "]") {
        items.push(code1, { k: "cp", cp: 0x2d });
        break;
      }
      const code2 = that.startsWith("\\") ? this.classEscape(that) : ({ k: "cp", cp: that.codePointAt(0) ?? 0 } as SetItem);
      if (code1.k !== "cp" || code2.k !== "cp" || code2.cp < code1.cp) {
        throw src.error(`bad character range ${token}-${that}`, token.length + 1 + that.length);
      }
      items.push({ k: "range", lo: code1.cp, hi: code2.cp });
    }
    return { t: "set", neg: negate, items };
  }

  /** `_class_escape`: inside a class `\b` is a backspace and anchors are errors. */
  private classEscape(token: string): SetItem {
    const src = this.src;
    const code = ESCAPES[token];
    if (code !== undefined) return { k: "cp", cp: code };
    const cat = CATEGORY_ESCAPES[token];
    if (cat) return { k: "cat", cat };
    const c = token.slice(1);
    const numeric = this.numericEscape(token, c, true);
    if (numeric?.t === "lit") return { k: "cp", cp: numeric.cp };
    if (OCTDIGITS.has(c)) {
      const escape = token + src.getwhile(2, OCTDIGITS);
      const value = parseInt(escape.slice(1), 8);
      if (value > 0o377) throw src.error(`octal escape value ${escape} outside of range 0-0o377`, escape.length);
      return { k: "cp", cp: value };
    }
    if (DIGITS.has(c) || ASCII_LETTER.test(c)) throw src.error(`bad escape ${token}`, token.length);
    return { k: "cp", cp: c.codePointAt(0) ?? 0 };
  }
}

function setFlag(target: Partial<PyFlags>, char: string): void {
  if (char === "i" || char === "m" || char === "s" || char === "x" || char === "a") target[char] = true;
  // "u" is the default for str patterns: nothing to record.
}

const NO_FLAGS: PyFlags = { i: false, m: false, s: false, x: false, a: false };

export interface PyParsed {
  ast: PySeq;
  /** Global flags: the base flags plus inline `(?…)` flags at the start. */
  flags: PyFlags;
  /** Python group number → name, for named groups. */
  names: Map<number, string>;
  groupCount: number;
  /** Where the first global flags group starts (null when there is none). */
  globalFlagsAt: number | null;
}

/** Parses a Python pattern (`re.compile(pattern, flags)`); throws PyRegexError like CPython. */
export function parsePython(pattern: string, base: Partial<PyFlags> = {}): PyParsed {
  const parser = new PyParser(pattern, { ...NO_FLAGS, ...base });
  const ast = parser.parse();
  const names = new Map<number, string>();
  for (const [name, gid] of parser.state.groupNames) names.set(gid, name);
  return { ast, flags: parser.state.flags, names, groupCount: parser.state.groups - 1, globalFlagsAt: parser.state.globalFlagsAt };
}

/**
 * `search_regex_tokens`: StackStorm looks for anchors only at the top level, inside groups,
 * and in the *second* alternative of an alternation (it reads `branches[1]`), never inside
 * repeats or lookarounds. Reproduced as is, since it decides whether `^\s*` / `\s*$` is added.
 */
export function hasAnchor(seq: PySeq, kinds: ReadonlySet<AtKind>): boolean {
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

// ---------------------------------------------------------------------------------------
// JavaScript emission
// ---------------------------------------------------------------------------------------

/** Python's `\s` (str.isspace) differs from JavaScript's: +\x1c-\x1f, \x85; −\ufeff. */
const PY_SPACE_MEMBERS = "\\t-\\r\\u{1c}-\\u{20}\\u{85}\\u{a0}\\u{1680}\\u{2000}-\\u{200a}\\u{2028}\\u{2029}\\u{202f}\\u{205f}\\u{3000}";
const PY_SPACE_CPS = [0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000];
for (let c = 0x2000; c <= 0x200a; c++) PY_SPACE_CPS.push(c);
/** Python whitespace as a set of characters (all in the BMP), for fast scanning. */
export const PY_SPACE = new Set(PY_SPACE_CPS.map((c) => String.fromCharCode(c)));

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

/** JavaScript source and flags for a parsed Python pattern. */
function emitJs(parsed: PyParsed): { source: string; flags: string } {
  return { source: new Emitter().seq(parsed.ast, parsed.flags), flags: `u${parsed.flags.i ? "i" : ""}` };
}

function newRegExp(source: string, flags: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (err) {
    throw new UnsupportedRegexError(`JavaScript cannot compile the translated pattern (${(err as Error).message})`);
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

function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!PY_SPACE.has(s[i] ?? "")) return false;
  return true;
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
    return new ExampleRenderer(parsed.names, new Set(this.fields), parsed.flags, sample).seq(parsed.ast).trim();
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

/** Renders text that a parsed pattern matches (see `CompiledFormat.exampleCommand`). */
class ExampleRenderer {
  private readonly texts = new Map<number, string>();
  private count = 0;

  constructor(
    private readonly names: Map<number, string>,
    private readonly fields: Set<string>,
    private readonly flags: PyFlags,
    private readonly sample: (name: string, index: number) => string,
  ) {}

  seq(nodes: PySeq): string {
    return nodes.map((n) => this.node(n)).join("");
  }

  private node(n: PyNode): string {
    switch (n.t) {
      case "lit":
        return String.fromCodePoint(n.cp);
      case "any":
        return "x";
      case "set":
        return this.setMember(n);
      case "group":
        return this.group(n);
      case "alt":
        return this.seq(n.branches[0] ?? []);
      case "repeat": {
        const times = n.min > 0 ? n.min : n.max > 0 && this.holdsField(n.body) ? 1 : 0;
        return Array.from({ length: times }, () => this.node(n.body)).join("");
      }
      case "ref":
        return this.texts.get(n.index) ?? "";
      default:
        return "";
    }
  }

  private group(n: Extract<PyNode, { t: "group" }>): string {
    const name = n.index === null ? undefined : this.names.get(n.index);
    const text = name !== undefined && this.fields.has(name) ? this.sample(name, this.count++) : this.seq(n.body);
    if (n.index !== null) this.texts.set(n.index, text);
    return text;
  }

  private holdsField(n: PyNode): boolean {
    if (n.t === "group") {
      const name = n.index === null ? undefined : this.names.get(n.index);
      return (name !== undefined && this.fields.has(name)) || n.body.some((c) => this.holdsField(c));
    }
    if (n.t === "alt") return n.branches.some((b) => b.some((c) => this.holdsField(c)));
    if (n.t === "repeat") return this.holdsField(n.body);
    return false;
  }

  private setMember(n: Extract<PyNode, { t: "set" }>): string {
    const re = new RegExp(`^${new Emitter().node(n, this.flags)}$`, "u");
    const first = n.items[0];
    const preferred = !n.neg && first?.k === "cp" ? String.fromCodePoint(first.cp) : !n.neg && first?.k === "range" ? String.fromCodePoint(first.lo) : "";
    for (const c of [preferred, "x", "a", "0", "-", "_", "Z", " "]) if (c && re.test(c)) return c;
    return "x";
  }
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
// What a format requires of a command, for the index (read from the parse tree)
// ---------------------------------------------------------------------------------------

/** Leading words deeper than this are not indexed (they rarely narrow further). */
export const MAX_INDEXED_DEPTH = 4;
/** Alternatives such as `(show|sh) (ip|ipv6)` multiply; past this a path stops shorter. */
const MAX_PATHS = 32;

function isSpaceCp(cp: number): boolean {
  return cp <= 0xffff && PY_SPACE.has(String.fromCharCode(cp));
}

/** A node that only ever matches whitespace; `min` is how many characters it needs. */
function spaceNode(n: PyNode | undefined): { min: number } | null {
  if (!n) return null;
  if (n.t === "lit") return isSpaceCp(n.cp) ? { min: 1 } : null;
  if (n.t === "set") {
    if (n.neg) return null;
    const ok = n.items.every((i) => (i.k === "cat" ? i.cat === "s" : i.k === "cp" ? isSpaceCp(i.cp) : false));
    return ok ? { min: 1 } : null;
  }
  if (n.t === "repeat") {
    const inner = spaceNode(n.body);
    return inner ? { min: n.min * inner.min } : null;
  }
  return null;
}

function isEndAnchor(n: PyNode | undefined, flags: PyFlags): boolean {
  return n?.t === "at" && (n.at === "eos" || (n.at === "eol" && !flags.m));
}

/** The alternatives of a word slot: a run of literal characters, or a group of such runs. */
function readSlot(seq: PySeq, i: number): { words: string[]; next: number } | null {
  const n = seq[i];
  if (n?.t === "lit" && !isSpaceCp(n.cp)) {
    let word = "";
    let j = i;
    for (let m = seq[j]; m?.t === "lit" && !isSpaceCp(m.cp); m = seq[++j]) word += String.fromCodePoint(m.cp);
    return { words: [word], next: j };
  }
  if (n?.t === "group" && !n.on.i && !n.off.i) {
    const only = n.body[0];
    const branches = n.body.length === 1 && only?.t === "alt" ? only.branches : [n.body];
    const words: string[] = [];
    for (const b of branches) {
      let word = "";
      for (const c of b) {
        if (c.t !== "lit" || isSpaceCp(c.cp)) return null;
        word += String.fromCodePoint(c.cp);
      }
      if (!word) return null;
      words.push(word);
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
  for (let s = spaceNode(seq[j]); s; s = spaceNode(seq[++j])) if (s.min > 0) boundary = true;
  if (j >= seq.length) return boundary ? { kind: "end" } : { kind: "glued" };
  if (isEndAnchor(seq[j], flags) && seq.slice(j).every((n) => isEndAnchor(n, flags) || spaceNode(n))) return { kind: "end" };
  return boundary ? { kind: "sep", next: j } : { kind: "glued" };
}

/**
 * Index hints from the final parse tree. Leading words only for a regex anchored at the
 * start (`^\s*`, StackStorm's or the format's own) whose first items are literal words, each
 * ending in whitespace or the end: then any match begins with exactly those words.
 * Case-insensitive or multi-line patterns get none.
 */
function indexHints(parsed: PyParsed): IndexHints {
  const { ast, flags } = parsed;
  if (flags.i) return { paths: [], literals: [], word: "" };
  const runs = literalRuns(ast);
  return { paths: leadingPaths(ast, flags), literals: runs, word: longestInnerWord(runs) };
}

function leadingPaths(ast: PySeq, flags: PyFlags): string[][] {
  const first = ast[0];
  if (flags.i || flags.m || first?.t !== "at" || (first.at !== "bol" && first.at !== "bos")) return [];
  let i = 1;
  while (i < ast.length && spaceNode(ast[i])) i++;
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
  let run = "";
  for (const n of ast) {
    if (n.t === "lit") {
      run += String.fromCodePoint(n.cp);
      continue;
    }
    if (run) runs.push(run);
    run = "";
  }
  if (run) runs.push(run);
  return runs;
}

/** The longest word enclosed by whitespace inside one literal run ("" when none). */
function longestInnerWord(runs: string[]): string {
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

/** Whether `text` contains every literal, in order and without overlap. */
export function containsInOrder(text: string, literals: readonly string[]): boolean {
  let from = 0;
  for (const literal of literals) {
    const at = text.indexOf(literal, from);
    if (at < 0) return false;
    from = at + literal.length;
  }
  return true;
}

/** All whitespace-separated words (Python's whitespace). */
export function splitWords(s: string): string[] {
  const words: string[] = [];
  let start = -1;
  for (let i = 0; i <= s.length; i++) {
    const ch = s[i];
    const space = ch === undefined || PY_SPACE.has(ch);
    if (space && start >= 0) {
      words.push(s.slice(start, i));
      start = -1;
    } else if (!space && start < 0) start = i;
  }
  return words;
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
