/**
 * Python's `re` syntax, parsed the way CPython 3.11's `re._parser` (sre_parse) does it:
 * the same tree shape, the same group numbering and the same errors, worded as CPython
 * words them. StackStorm passes alias formats to Python's `re`, so accepting or rejecting
 * a pattern exactly as Python does is what makes the local verdict match the server's.
 */
import type { AtKind, Category, FlagName, PyFlags, PyNode, PyParsed, PySeq, SetItem, Width } from "./ast.ts";
import { PyRegexError, pyRepr, UnsupportedRegexError } from "./errors.ts";

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
    // Sliced from the pattern, not built with `+=`: a group name is kept for the format's
    // lifetime, and a string grown one character at a time stays a chain of fragments.
    const start = this.tell();
    for (;;) {
      const end = this.tell();
      const c = this.get();
      if (c === null) {
        if (end === start) throw this.error(`missing ${name}`);
        throw this.error(`missing ${terminator}, unterminated name`, end - start);
      }
      if (c === terminator) {
        if (end === start) throw this.error(`missing ${name}`, 1);
        return this.slice(start, end);
      }
    }
  }

  /** The pattern's text between two positions (code point indexes). */
  private slice(start: number, end: number): string {
    return typeof this.chars === "string" ? this.chars.slice(start, end) : this.chars.slice(start, end).join("");
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

/** Parses a Python pattern (`re.compile(pattern, flags)`); throws PyRegexError like CPython. */
export function parsePython(pattern: string, base: Partial<PyFlags> = {}): PyParsed {
  const parser = new PyParser(pattern, { ...NO_FLAGS, ...base });
  const ast = parser.parse();
  const names = new Map<number, string>();
  for (const [name, gid] of parser.state.groupNames) names.set(gid, name);
  return { ast, flags: parser.state.flags, names, groupCount: parser.state.groups - 1, globalFlagsAt: parser.state.globalFlagsAt };
}
