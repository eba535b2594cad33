/**
 * The bodies and queries st2bot sends to StackStorm, and the allow-lists that keep them to
 * exactly the keys StackStorm accepts (its API models refuse unknown keys).
 */

/** The body of `POST /api/v1/aliasexecution`; only these keys are sent (StackStorm rejects others). */
export interface AliasExecutionRequest {
  name: string;
  format: string;
  command: string;
  source_channel: string;
  user?: string;
  source_context?: Record<string, unknown>;
  notification_channel?: string;
  notification_route?: string;
}

/** The body of `POST /api/v1/aliasexecution/match_and_execute` (no `source_context` here). */
export interface MatchAndExecuteRequest {
  command: string;
  source_channel: string;
  user: string;
  notification_channel?: string;
  notification_route?: string;
}

/**
 * The body of `POST /api/v1/executions` as st2bot sends it: an action ref and its parameters.
 * StackStorm's `LiveActionCreateAPI` refuses keys it does not know, and parameter names must be
 * word characters (`^\w+$`).
 */
export interface ExecutionRequest {
  action: string;
  parameters?: Record<string, unknown>;
}

/** The paging and filters of `GET /actionalias/help`, passed through as query parameters. */
export interface AliasHelpQuery {
  pack?: string;
  /** A case-insensitive regular expression on `display`: escape user text before passing it. */
  filter?: string;
  limit?: number;
  offset?: number;
}

/** The keys of an `AliasExecutionRequest` that are sent. */
export const EXECUTION_KEYS = [
  "name",
  "format",
  "command",
  "source_channel",
  "user",
  "source_context",
  "notification_channel",
  "notification_route",
] as const satisfies ReadonlyArray<keyof AliasExecutionRequest>;


/** The keys of a `MatchAndExecuteRequest` that are sent. */
export const MATCH_KEYS = [
  "command",
  "source_channel",
  "user",
  "notification_channel",
  "notification_route",
] as const satisfies ReadonlyArray<keyof MatchAndExecuteRequest>;


/** The keys of an `ExecutionRequest` that are sent. */
export const EXECUTION_CREATE_KEYS = ["action", "parameters"] as const satisfies ReadonlyArray<keyof ExecutionRequest>;

/** A query string of the defined values only. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, val] of Object.entries(params)) if (val !== undefined) q.set(k, String(val));
  return q.toString();
}

/** Only the allowed keys, and only those with a value: StackStorm rejects unknown keys. */
export function pick<T extends object, K extends keyof T>(obj: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

