/**
 * StackStorm's first step on a chat command (`match_kv_pairs_at_end`): trailing `key=value`
 * pairs are cut off and become extra parameters. It does not depend on the format, so it
 * is done once per command however many formats are tried.
 *
 * StackStorm does it with `re.match(r".*?((PAIRS\s*)*)$", command, DOTALL)` and then
 * `re.findall(PAIRS, group(1))`. On a backtracking engine the first is exponential in the
 * number of pairs (72 characters kept the event loop busy for a minute) and the second
 * polynomial in whitespace runs. Both are computed here by linear scanners that give the
 * same answers (tests/st2/aliases/command.test.ts runs them against the regexes).
 */
import { isBlank, isSpaceUnit } from "./words.ts";

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

/** `match_kv_pairs_at_end`, done once per command, in time linear in its length. */
export function prepareCommand(command: string): PreparedCommand {
  const pairsText = endingPairs(command);
  let stream = command;
  let pairs: [string, string][] = [];
  if (pairsText) {
    pairs = findPairs(pairsText);
    // Python's str.replace: every occurrence goes, not only the trailing one.
    stream = command.split(pairsText).join("");
  }
  return { command, stream: ` ${stream} `, pairs, pairsText, blank: isBlank(stream) };
}


const isSpace = (ch: string | undefined): boolean => ch !== undefined && isSpaceUnit(ch.charCodeAt(0));

// States of the reversed automaton below, one bit each.
const TRAIL = 1 << 0; // whitespace after the last value (or before a later pair's key)
const BARE = 1 << 1; // inside an unquoted value `\S+`
const DQ_CLOSE = 1 << 2; // read the closing `"` of `"(.+?)"`
const DQ_BODY = 1 << 3; // read at least one character inside it
const SQ_CLOSE = 1 << 4;
const SQ_BODY = 1 << 5;
const BR_CLOSE = 1 << 6; // read the closing `}` of `{.+?}`
const BR_BODY = 1 << 7;
const VALUE = 1 << 8; // a quoted or braced value is complete (its opener read)
const EQUALS = 1 << 9; // read the `=`
const EQ_SPACE = 1 << 10; // whitespace between key and `=`
const KEY = 1 << 11; // at least one key character read
const LEAD = 1 << 12; // whitespace before a key: a whole pair is complete

/**
 * Group 1 of `re.match(r".*?((PAIRS\s*)*)$", command, DOTALL)`: the shortest suffix made of
 * one or more pairs, or "" when none.
 *
 * Whether a regex without backreferences matches does not depend on backtracking order, and
 * `.*?` takes the first start that matches. A suffix matches when it is `(W+ K W* = V W*)+`
 * (at index 0 the first `W+` may be empty: `^`), where W is Python whitespace, K is `\S+`
 * and V is `\S+`, `"…"`, `'…'` or `{…}` with anything (at least one character) inside.
 * (`""` and `''` are `\S+` too.) Reading the command backwards through that language
 * reversed, with a set of states, tells at every index whether the suffix starting there
 * matches; the group always runs to the end of the string (the last `\s*` takes a final
 * newline before `$` is tried).
 */
function endingPairs(command: string): string {
  let states = 0;
  let found = -1;
  for (let i = command.length - 1; i >= 0; i--) {
    states = step(states, command.charCodeAt(i), i === command.length - 1);
    if (states & LEAD) found = i;
  }
  if (states & KEY) found = 0;
  return found < 0 ? "" : command.slice(found);
}

const DQUOTE = 0x22;
const SQUOTE = 0x27;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const EQUALS_SIGN = 0x3d;

/** One UTF-16 unit (`charCodeAt`), read right to left, through the reversed pair language. */
function step(states: number, ch: number, first: boolean): number {
  const space = isSpaceUnit(ch);
  let next = 0;
  // Where a value may end (reading backwards, begin): at the end of the string, or after
  // trailing whitespace, or after the whitespace that separates it from a later pair.
  const valueEnd = first || (states & (TRAIL | LEAD)) !== 0;
  if (valueEnd) {
    if (space) next |= TRAIL;
    else {
      next |= BARE;
      if (ch === DQUOTE) next |= DQ_CLOSE;
      else if (ch === SQUOTE) next |= SQ_CLOSE;
      else if (ch === RBRACE) next |= BR_CLOSE;
    }
  }
  if (!space && states & BARE) next |= BARE;
  if (states & (DQ_CLOSE | DQ_BODY)) next |= DQ_BODY;
  if (states & (SQ_CLOSE | SQ_BODY)) next |= SQ_BODY;
  if (states & (BR_CLOSE | BR_BODY)) next |= BR_BODY;
  if (ch === DQUOTE && states & DQ_BODY) next |= VALUE;
  if (ch === SQUOTE && states & SQ_BODY) next |= VALUE;
  if (ch === LBRACE && states & BR_BODY) next |= VALUE;
  if (ch === EQUALS_SIGN && states & (BARE | VALUE)) next |= EQUALS;
  if (space && states & (EQUALS | EQ_SPACE)) next |= EQ_SPACE;
  if (!space && states & (EQUALS | EQ_SPACE | KEY)) next |= KEY;
  if (space && states & (KEY | LEAD)) next |= LEAD;
  return next;
}

/**
 * `re.findall(PAIRS, text)` as (key, value) pairs, where PAIRS is StackStorm's
 * `(?:^|\s+)\s*(\S+?)\s*=(""|''|"(.+?)"|'(.+?)'|({.+?})|(\S+))` and the value is the
 * concatenation of groups 3 to 6.
 *
 * What the backtracking engine does, step by step: a match starts at index 0 or in a
 * whitespace run, and its leading `\s+\s*` ends up taking the whole run (giving any back
 * only leaves whitespace where `\S` is needed). The lazy key then takes the fewest
 * characters after which `\s*=` (greedy, so the whole following run) and a value fit, and a
 * value fits exactly when the character after `=` is not whitespace. The value is the first
 * alternative that fits. Every start inside one whitespace run gives the same match, so a
 * failed run is skipped whole: each character is looked at a bounded number of times.
 */
function findPairs(text: string): [string, string][] {
  const out: [string, string][] = [];
  const lastDouble = text.lastIndexOf('"');
  const lastSingle = text.lastIndexOf("'");
  const lastBrace = text.lastIndexOf("}");
  let pos = 0;
  while (pos < text.length) {
    if (pos > 0 && !isSpace(text[pos])) {
      pos++;
      continue;
    }
    let keyStart = pos;
    while (isSpace(text[keyStart])) keyStart++;
    const found = pairAt(text, keyStart);
    if (!found) {
      // No pair starts from this run: neither does any later start inside it.
      pos = Math.max(pos + 1, keyStart);
      continue;
    }
    const [key, valueStart] = found;
    const value = valueAt(text, valueStart, lastDouble, lastSingle, lastBrace);
    out.push([key, value.value]);
    pos = value.end;
  }
  return out;
}

/** The lazy key starting at `start` and where its value starts, or undefined. */
function pairAt(text: string, start: number): [string, number] | undefined {
  let end = start + 1;
  for (; end <= text.length && !isSpace(text[end - 1]); end++) {
    // `(\S+?)` ends before `end`; `\s*` takes the whole run after it, then `=` and a value.
    let eq = end;
    while (isSpace(text[eq])) eq++;
    if (text[eq] === "=" && eq + 1 < text.length && !isSpace(text[eq + 1])) return [text.slice(start, end), eq + 1];
    // Past the key's last character only whitespace can follow: no later end can work.
    if (eq !== end) return undefined;
  }
  return undefined;
}

/** The value at `start` (not whitespace): the first of StackStorm's alternatives that fits. */
function valueAt(text: string, start: number, lastDouble: number, lastSingle: number, lastBrace: number): { value: string; end: number } {
  const ch = text[start];
  if ((ch === '"' || ch === "'") && text[start + 1] === ch) return { value: "", end: start + 2 };
  if (ch === '"' && lastDouble >= start + 2) {
    const close = text.indexOf('"', start + 2);
    return { value: text.slice(start + 1, close), end: close + 1 };
  }
  if (ch === "'" && lastSingle >= start + 2) {
    const close = text.indexOf("'", start + 2);
    return { value: text.slice(start + 1, close), end: close + 1 };
  }
  if (ch === "{" && lastBrace >= start + 2) {
    const close = text.indexOf("}", start + 2);
    return { value: text.slice(start, close + 1), end: close + 1 };
  }
  let end = start;
  while (end < text.length && !isSpace(text[end])) end++;
  return { value: text.slice(start, end), end };
}
