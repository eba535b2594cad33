/** Which action alias started an execution, from what StackStorm records in its context. */
import type { ActionAlias } from "../../st2/aliases/types.ts";
import type { Execution } from "../../st2/schemas.ts";

/**
 * The alias of `aliases` named by `execution.context.action_alias_ref`: StackStorm records
 * `{id, name}` there (`reference.get_ref_from_model`), matched by id, or (without an id) by a name only
 * one alias has; a plain `pack.name` string is matched by ref. Undefined when none matches.
 */
export function aliasOfExecution(execution: Execution, aliases: readonly ActionAlias[]): ActionAlias | undefined {
  const ref = execution.context?.action_alias_ref;
  if (typeof ref === "string") return aliases.find((a) => a.ref === ref);
  if (typeof ref !== "object" || ref === null) return undefined;
  const { id, name } = ref as { id?: unknown; name?: unknown };
  // An id names one alias for good: one this bot does not serve is not found by its name instead.
  if (typeof id === "string") return aliases.find((a) => a.id === id);
  if (typeof name !== "string") return undefined;
  const named = aliases.filter((a) => a.name === name);
  return named.length === 1 ? named[0] : undefined;
}
