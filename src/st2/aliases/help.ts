/**
 * `GET /actionalias/help` (`generate_helpstring_result`), computed locally from the aliases.
 */
import { isEnabled, normaliseFormat } from "./types.ts";
import type { ActionAlias } from "./types.ts";

export interface HelpQuery {
  pack?: string;
  filter?: string;
  limit?: number;
  offset?: number;
}

export interface HelpResult {
  available: number;
  helpstrings: { pack: string; display: string; description: string }[];
}

/**
 * `GET /actionalias/help`, computed locally (`generate_helpstring_result`): enabled aliases,
 * optionally one pack, displays containing `filter` (case-insensitive plain text, where
 * StackStorm takes a regex: see helpFilter), `available` counted before paging.
 */
export function helpOf(aliases: readonly ActionAlias[], query: HelpQuery = {}): HelpResult {
  const limit = query.limit ?? 0;
  const offset = query.offset ?? 0;
  if (!Number.isInteger(limit) || !Number.isInteger(offset)) throw new TypeError("limit or offset argument is not an integer");
  const accepts = helpFilter(query.filter ?? "");
  const helpstrings: HelpResult["helpstrings"] = [];
  let count = 0;
  for (const alias of aliases) {
    if (!isEnabled(alias)) continue;
    if (query.pack && query.pack !== alias.pack) continue;
    for (const format of alias.formats ?? []) {
      const display = displayOfFormat(format);
      if (!display || !accepts(display)) continue;
      if (inPage(count, limit, offset)) helpstrings.push({ pack: alias.pack, display, description: alias.description ?? "" });
      count++;
    }
  }
  return { available: count, helpstrings };
}

/** A format entry's display; "" for an entry that is neither string nor object. */
function displayOfFormat(format: unknown): string {
  try {
    return normaliseFormat(format).display;
  } catch {
    return "";
  }
}

/** StackStorm's paging arithmetic, including its treatment of negative values. */
function inPage(count: number, limit: number, offset: number): boolean {
  if (offset === 0 && limit > 0) return count < limit;
  if (offset > 0 && limit === 0) return count >= offset;
  if (offset > 0 && limit > 0) return count >= offset && count < offset + limit;
  return true;
}

/**
 * The help filter as plain, case-insensitive text. StackStorm compiles it as a regex
 * (`re.search(filter, display, re.IGNORECASE)`); on a backtracking engine a chat user's
 * `(.|.)*!` then costs minutes, so st2bot never runs user text as a regex.
 */
function helpFilter(filter: string): (display: string) => boolean {
  if (!filter) return () => true;
  const needle = filter.toLowerCase();
  return (display) => display.toLowerCase().includes(needle);
}
