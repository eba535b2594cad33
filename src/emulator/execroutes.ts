/**
 * The execution endpoints, answering as StackStorm's `ActionExecutionsController` and
 * `ActionExecutionReRunController` do: create, get, list with filters, cancel (DELETE) and
 * re-run; and the `action_execute` check alias execution shares.
 */
import { EXECUTION_REQUEST, checkBody, parameterNameError, type BodySchema } from "./bodies.ts";
import type { Call, RouteDeps } from "./call.ts";
import { Fault, json } from "./http.ts";
import { page } from "./paging.ts";
import type { ExecutionView } from "./result.ts";
import type { CredentialUse, EmulatedExecution } from "./types.ts";

/** `LIVEACTION_CANCELABLE_STATES` (st2common/constants/action.py). */
const CANCELABLE = new Set(["requested", "scheduled", "delayed", "running", "pausing", "paused", "resuming", "pending"]);

/** The re-run body (`spec_api` in the OpenAPI spec); it allows keys beyond these. */
export const RERUN_REQUEST: BodySchema = {
  properties: [
    ["parameters", ["object"], false],
    ["tasks", ["array"], false],
    ["reset", ["array"], false],
    ["user", ["string"], false],
    ["delay", ["integer"], false],
  ],
  closed: false,
};

/**
 * `GET /executions` filters as `ActionExecutionsController.get_all` applies them: `action`
 * (ref), `status`, `user` (context.user), `parent` (`null` for top-level only), newest first.
 */
export function filterExecutions(all: readonly EmulatedExecution[], query: Record<string, string>): EmulatedExecution[] {
  const { action, status, user, parent } = query;
  return [...all].reverse().filter((e) => {
    if (action !== undefined && e.action.ref !== action) return false;
    if (status !== undefined && e.status !== status) return false;
    if (user !== undefined && e.user !== user) return false;
    if (parent === "null" && e.parentId !== undefined) return false;
    if (parent !== undefined && parent !== "null" && e.parentId !== parent) return false;
    return true;
  });
}

/** `exclude_attributes=a,b`: top-level fields left out of each listed execution. */
export function excludeAttributes(view: ExecutionView, query: Record<string, string>): ExecutionView {
  const drop = (query.exclude_attributes ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (drop.length === 0) return view;
  const out: Record<string, unknown> = { ...view };
  for (const key of drop) if (key !== "id") delete out[key];
  return out as ExecutionView;
}

/** StackStorm's RBAC refusal for `permission` on `resource`. */
function refuse(deps: RouteDeps, cred: CredentialUse, ref: string, permission: string, resource: string): void {
  if (!deps.opts.canExecute || deps.opts.canExecute(cred.user!, ref)) return;
  throw new Fault(403, `User "${cred.user}" doesn't have required permission "${permission}" on resource "${resource}"`);
}

/** RBAC's `action_execute` on the action, as `assert_user_has_resource_db_permission` answers. */
export function checkExecute(deps: RouteDeps, cred: CredentialUse, ref: string): void {
  refuse(deps, cred, ref, "action_execute", actionResource(ref));
}

function actionResource(ref: string): string {
  const [pack, ...rest] = ref.split(".");
  return `action:${pack}:${rest.join(".")}`;
}

function found(deps: RouteDeps, id: string): EmulatedExecution {
  const ex = deps.state.execution(id);
  if (!ex) throw new Fault(404, `Unable to identify resource with id "${id}".`);
  return ex;
}

/**
 * `ActionExecutionsController.post` (`_handle_schedule_execution`): body schema, then the
 * action must exist (400), RBAC (403), and only admins may run as another `user` (403).
 */
export function createExecution(deps: RouteDeps, call: Call): Response {
  const body = checkBody(call.body, EXECUTION_REQUEST);
  const parameters = (body.parameters ?? {}) as Record<string, unknown>;
  const badName = parameterNameError(parameters);
  if (badName) throw new Fault(400, badName);
  const cred = call.credential!;
  const ref = body.action as string;
  const action = deps.state.registeredAction(ref);
  if (!action) throw new Fault(400, `Action "${ref}" cannot be found.`);
  checkExecute(deps, cred, ref);
  const user = (body.user as string | null | undefined) || cred.user!;
  if (user !== cred.user && !deps.state.isAdmin(cred)) throw new Fault(403, '"user" attribute can only be provided by admins');
  const ex = deps.executions.create({ action, parameters: { ...parameters }, user });
  return json(201, deps.executions.view(ex));
}

/** `GET /executions`: filtered, newest first, `exclude_attributes` honoured, paged. */
export function listExecutions(deps: RouteDeps, call: Call): Response {
  return page(deps.state, call, filterExecutions(deps.state.executions, call.query).map((e) => excludeAttributes(deps.executions.view(e), call.query)));
}

/** `GET /executions/{id}`: one execution, its result included. */
export function getExecution(deps: RouteDeps, id: string): Response {
  return json(200, deps.executions.view(found(deps, id)));
}

/**
 * `DELETE /executions/{id}`: a cancelable execution is cancelled (a running one goes through
 * `canceling`) and returned with 200; one already cancelled is returned as it is; any other
 * state is refused with a faultstring — and, as StackStorm does (`abort(http_client.OK, …)`),
 * with status 200.
 */
export function cancelExecution(deps: RouteDeps, call: { credential?: CredentialUse }, id: string): Response {
  const ex = found(deps, id);
  refuse(deps, call.credential!, ex.action.ref, "execution_stop", `execution:${ex.id}`);
  if (ex.status === "canceled") return json(200, deps.executions.view(ex));
  if (!CANCELABLE.has(ex.status)) return json(200, { faultstring: `Action cannot be canceled. State = ${ex.status}.` });
  deps.executions.cancel(ex);
  return json(200, deps.executions.view(ex));
}

/**
 * `POST /executions/{id}/re_run`: the old parameters with the given ones laid over them, the
 * same action, `context["re-run"].ref` naming the original; `tasks` only for Orquesta; only
 * admins may name another `user`. 201 with the new execution.
 */
export function rerunExecution(deps: RouteDeps, call: { body: unknown; credential?: CredentialUse }, id: string): Response {
  const body = checkBody(call.body, RERUN_REQUEST);
  const given = (body.parameters ?? {}) as Record<string, unknown>;
  const badName = parameterNameError(given);
  if (badName) throw new Fault(400, badName);
  const cred = call.credential!;
  const old = found(deps, id);
  const tasks = (body.tasks ?? []) as unknown[];
  if (tasks.length > 0 && old.action.runner !== "orquesta") throw new Fault(400, "Task option is only supported for Orquesta workflows.");
  refuse(deps, cred, old.action.ref, "action_execute", actionResource(old.action.ref));
  const user = (body.user as string | undefined) || cred.user!;
  if (user !== cred.user && !deps.state.isAdmin(cred)) throw new Fault(403, '"user" attribute can only be provided by admins');
  const rerun: Record<string, unknown> = { ref: id };
  if (tasks.length > 0) rerun.tasks = tasks;
  const ex = deps.executions.create({
    action: old.action,
    parameters: { ...old.parameters, ...given },
    user,
    context: { user, "re-run": rerun },
  });
  return json(201, deps.executions.view(ex));
}
