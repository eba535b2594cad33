/**
 * Execution ids as people type them: the whole id, or a fragment of at least 6 hex digits
 * that starts or ends exactly one of the most recent executions the caller can see — the
 * rules inquiry ids follow (../inquiries/ids.ts: ids made in the same second share 18 digits,
 * so listings show endings). Listings show each id's shortest ending that is unique among the
 * listed ones and those recent executions, so what a listing shows can be typed back.
 */
import type { St2Client } from "../../st2/client.ts";
import { listExecutions } from "../../st2/executions.ts";
import type { Execution } from "../../st2/schemas.ts";
import { CommandError } from "../../lib/errors.ts";
import { FULL_ID, lookupFragment, MIN_TYPED, shortIds } from "../inquiries/ids.ts";

/** How many recent executions a fragment is resolved against (StackStorm's page cap). */
export const RECENT = 100;
const HEX = /^[0-9a-f]+$/i;
/** Candidates named for an ambiguous fragment. */
const MAX_CANDIDATES = 5;

/** The most recent executions (any depth, results left out): what fragments name. */
export async function recentExecutions(client: St2Client): Promise<Execution[]> {
  return listExecutions(client, { limit: RECENT, withoutResult: true });
}

/**
 * The whole id a typed id names. A whole id is taken as it is (StackStorm says if it does not
 * exist); a fragment is looked up among `recent()`; anything else is refused with why.
 */
export async function resolveId(typed: string, recent: () => Promise<Execution[]>): Promise<string> {
  if (FULL_ID.test(typed)) return typed.toLowerCase();
  if (!HEX.test(typed)) throw new CommandError(`"${typed}" is not an execution id (hex digits, as shown in acks and listings).`);
  const found = lookupFragment(typed, await recent());
  switch (found.kind) {
    case "one":
      return found.item.id;
    case "too-short":
      throw new CommandError(`"${typed}" is too short to name one execution safely; type at least ${MIN_TYPED} digits of its id.`);
    case "none":
      throw new CommandError(`None of the ${RECENT} most recent executions you can see has an id starting or ending with "${typed}"; type the whole id.`);
    case "several": {
      const list = found.items.slice(0, MAX_CANDIDATES).map((e) => `  ${e.id} ${e.action?.ref ?? ""} (${e.status ?? "?"})`);
      throw new CommandError(`"${typed}" names ${found.items.length} executions; type more of the id:\n${list.join("\n")}`);
    }
  }
}

/** Short forms of `listed` ids, each unique among them and the recent ones. */
export function listingIds(listed: readonly Execution[], recent: readonly Execution[]): Map<string, string> {
  const all = [...new Set([...listed, ...recent].map((e) => e.id))];
  return shortIds(all);
}
