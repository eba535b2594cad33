/**
 * StackStorm's own regex snippets (st2common/models/utils/action_alias_utils.py), byte for
 * byte, and their JavaScript translations (compiled once, on first use).
 */
import { compilePython, type PyRegExp } from "./pyregex/emit.ts";

const KEY = String.raw`\s*(\S+?)\s*`;
const EXT_VALUE = String.raw`""|\'\'|"(.+?)"|\'(.+?)\'|({.+?})|(.+?)`;
// The trailing pairs (`(?:^|\s+)KEY=(""|''|"(.+?)"|'(.+?)'|({.+?})|(\S+))`) are read by
// the linear scanner in command.ts, not by a regex: on a backtracking engine they are exponential.
const DEFAULT = String.raw`\s*=\s*(?:${EXT_VALUE})\s*`;
const OPTIONAL = `{{${KEY}${DEFAULT}}}`;
const REQUIRED = `{{${KEY}}}`;

/** What StackStorm puts before a format that has no start anchor of its own. */
export const BEGIN = String.raw`^\s*`;
/** What StackStorm puts after a format that has no end anchor of its own. */
export const END = String.raw`\s*$`;

/** `param_match` up to the group name. */
export const PARAM_HEAD = String.raw`["\']?(?P<`;
/** `param_match` after the group name. */
export const PARAM_TAIL = String.raw`>(?:(?<=\').+?(?=\')|(?<=").+?(?=")|{.+?}|.+?))["\']?`;

/** `param_match` after re.sub's template expansion of `\1` (spacing) and `\2` (name). */
export function paramMatch(spacing: string, name: string): string {
  return spacing + PARAM_HEAD + name + PARAM_TAIL;
}

export interface Snippets {
  /** `{{ name = default }}`, as `findall` reads defaults (DOTALL, global). */
  readonly optionalFind: PyRegExp;
  /** Spacing + `{{ name = default }}`, as the first `re.sub` replaces it (global). */
  readonly optionalSub: PyRegExp;
  /** Spacing + `{{ name }}`, as the second `re.sub` replaces it (global). */
  readonly requiredSub: PyRegExp;
}

let snippets: Snippets | undefined;

/** StackStorm's helper regexes, translated once (they are valid by construction). */
export function getSnippets(): Snippets {
  snippets ??= {
    optionalFind: compilePython(OPTIONAL, { s: true }, "g"),
    // The two re.sub calls pass no flags: `.` stops at newlines there.
    optionalSub: compilePython(String.raw`(\s*)` + OPTIONAL, {}, "g"),
    requiredSub: compilePython(String.raw`(\s*)` + REQUIRED, {}, "g"),
  };
  return snippets;
}

/** `"".join(groups[from..to])` with unmatched groups as "" (what findall gives). */
export function joinGroups(m: RegExpExecArray, from: number, to: number): string {
  let out = "";
  for (let g = from; g <= to; g++) out += m[g] ?? "";
  return out;
}
