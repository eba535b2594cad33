/**
 * `stackstorm.packs`: the packs whose action aliases this bot loads, lists and runs, so several
 * bots can serve different teams from one StackStorm (hubot-stackstorm #156).
 */
import type { ActionAlias } from "./aliases/types.ts";

/** Whether `alias` is served under `packs` (every alias when no list is configured). */
export function servedBy(packs: readonly string[] | undefined): (alias: Pick<ActionAlias, "pack">) => boolean {
  if (!packs) return () => true;
  const chosen = new Set(packs);
  return (alias) => chosen.has(alias.pack);
}

/** The configured packs no alias of `aliases` belongs to (a typo, or a pack not installed). */
export function packsWithoutAliases(packs: readonly string[] | undefined, aliases: readonly Pick<ActionAlias, "pack">[]): string[] {
  if (!packs) return [];
  const present = new Set(aliases.map((a) => a.pack));
  return packs.filter((p) => !present.has(p));
}
