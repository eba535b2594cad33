/**
 * StackStorm's first step on a chat command (`match_kv_pairs_at_end`): trailing `key=value`
 * pairs are cut off and become extra parameters. It does not depend on the format, so it
 * is done once per command however many formats are tried.
 */
import { getSnippets, joinGroups } from "./snippets.ts";
import { isBlank, PY_SPACE } from "./words.ts";

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

/** `match_kv_pairs_at_end`, done once per command. */
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
