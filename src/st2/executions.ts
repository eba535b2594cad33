/**
 * Execution management on StackStorm's API: list with filters, cancel, re-run. Kept beside
 * client.ts (which is full) and called with the client of the identity acting, so every call
 * carries that identity's credential and its 401 renewal.
 */
import * as v from "valibot";
import type { St2Client } from "./client.ts";
import { ExecutionSchema, type Execution } from "./schemas.ts";

/** Filters of `GET /executions`; `limit` is capped by StackStorm at 100 for non-admins. */
export interface ExecutionQuery {
  action?: string;
  status?: string;
  /** The StackStorm user who ran it (`context.user`). */
  user?: string;
  /** Only top-level executions (not a workflow's tasks), as `st2 execution list` shows. */
  topLevel?: boolean;
  limit?: number;
  /** Leave the (possibly large) result out of each listed execution. */
  withoutResult?: boolean;
}

/** `GET /executions` newest first, filtered as asked. */
export async function listExecutions(client: St2Client, q: ExecutionQuery): Promise<Execution[]> {
  const params = new URLSearchParams();
  if (q.action) params.set("action", q.action);
  if (q.status) params.set("status", q.status);
  if (q.user) params.set("user", q.user);
  if (q.topLevel) params.set("parent", "null");
  params.set("limit", String(q.limit ?? 100));
  if (q.withoutResult) params.set("exclude_attributes", "result");
  return client.api("GET", `/executions?${params}`, v.array(ExecutionSchema));
}

/** What a cancel request came to. */
export type CancelOutcome = { kind: "cancelled"; execution: Execution } | { kind: "refused"; reason: string };

/**
 * `DELETE /executions/{id}`. StackStorm answers a state it cannot cancel (succeeded, failed…)
 * with status 200 and a faultstring (`abort(http_client.OK, …)`), so a 200 is read either way.
 */
export async function cancelExecution(client: St2Client, id: string): Promise<CancelOutcome> {
  const body = await client.api("DELETE", `/executions/${encodeURIComponent(id)}`, CancelAnswerSchema);
  if ("faultstring" in body && typeof body.faultstring === "string") return { kind: "refused", reason: body.faultstring };
  return { kind: "cancelled", execution: v.parse(ExecutionSchema, body) };
}

const CancelAnswerSchema = v.union([v.looseObject({ faultstring: v.string() }), ExecutionSchema]);

/**
 * `POST /executions/{id}/re_run`: the same action with the old parameters, `parameters` laid
 * over them; the new execution (201). No `user` is sent: naming one takes an RBAC admin.
 */
export async function rerunExecution(client: St2Client, id: string, parameters: Record<string, string>): Promise<Execution> {
  return client.api("POST", `/executions/${encodeURIComponent(id)}/re_run`, ExecutionSchema, { parameters });
}
