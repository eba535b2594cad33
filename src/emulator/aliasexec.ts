/**
 * Running an action alias, as StackStorm's `ActionAliasExecutionController` does it:
 * `POST /aliasexecution` (the client names alias and format) and
 * `POST /aliasexecution/match_and_execute` (the server matches), both through `execute`:
 * checks, parameters, executions, rendered acks.
 */
import { ALIAS_EXECUTION, MATCH_AND_EXECUTE, checkBody } from "./bodies.ts";
import type { Call, RouteDeps } from "./call.ts";
import { formatStrings } from "./engine.ts";
import { checkExecute } from "./execroutes.ts";
import { Fault, json } from "./http.ts";
import { UndefinedError, renderTemplate, renderValues } from "./jinja.ts";
import { pyRepr } from "./python.ts";
import type { CredentialUse, EmulatedExecution, ParamSpec, StoredAlias } from "./types.ts";

/** `POST /aliasexecution`: one execution of the named alias, 201 with its ack. */
export function aliasExecution(deps: RouteDeps, call: Call): Response {
  const body = checkBody(call.body, ALIAS_EXECUTION);
  const [result] = execute(deps, call.credential!, body, false);
  return json(201, result);
}

/** `POST /aliasexecution/match_and_execute`: the matching alias run, `{results: [...]}`. */
export function matchAndExecute(deps: RouteDeps, call: Call): Response {
  const body = checkBody(call.body, MATCH_AND_EXECUTE);
  const command = body.command as string;
  const verdict = deps.state.engine.match(command);
  if (!verdict.ok) throw new Fault(400, verdict.faultstring);
  const payload: Record<string, unknown> = {
    name: verdict.alias.name,
    format: verdict.representation,
    command,
    user: body.user,
    source_channel: body.source_channel,
  };
  if (body.notification_channel) payload.notification_channel = body.notification_channel;
  if (body.notification_route) payload.notification_route = body.notification_route;
  return json(201, { results: execute(deps, call.credential!, payload, verdict.matchMultiple) });
}

/** `ActionAliasExecutionController._post`: checks, parameters, executions, rendered acks. */
function execute(deps: RouteDeps, cred: CredentialUse, body: Record<string, unknown>, multiple: boolean): Record<string, unknown>[] {
  const name = body.name as string;
  const alias = deps.state.aliases.find((a) => a.name === name);
  if (!alias) throw new Fault(404, `Unable to identify action alias with name "${name}".`);
  if (!alias.enabled) throw new Fault(400, `Action alias with name "${name}" is disabled.`);
  const format = body.format as string;
  if (!formatStrings(alias).includes(format)) {
    throw new Fault(400, `Format string "${format}" is not available on the alias "${alias.name}"`);
  }
  let paramSets: Record<string, unknown>[];
  try {
    paramSets = deps.state.engine.extract(format, body.command as string, multiple);
  } catch (err) {
    throw new Fault(400, (err as Error).message);
  }
  const immutable = alias.immutable_parameters ?? {};
  const overridden = (p: Record<string, unknown>) => Object.keys(immutable).filter((k) => k in p);
  for (const params of paramSets) {
    if (overridden(params).length) throw new Fault(400, `Immutable arguments cannot be overriden: ${overridden(params).join(",")}`);
    Object.assign(params, renderValues(immutable, { user: cred.user }, false));
  }
  const action = deps.state.action(alias.action_ref);
  checkExecute(deps, cred, action.ref);
  const casted = paramSets.map((p) => castParams(p, action.parameters ?? {}));
  const notifyRoute = (body.notification_route as string) || (body.notification_channel as string) || undefined;
  return casted.map((parameters) => {
    const ex = deps.executions.create({
      action,
      alias,
      parameters,
      user: cred.user!,
      apiUser: body.user as string | undefined,
      sourceChannel: body.source_channel as string | undefined,
      sourceContext: body.source_context,
      notifyRoute,
    });
    return ackFor(deps, ex, alias);
  });
}

/** The 201 body: execution, alias, and the rendered `ack.format` / `ack.extra`. */
function ackFor(deps: RouteDeps, ex: EmulatedExecution, alias: StoredAlias): Record<string, unknown> {
  const result: Record<string, unknown> = { execution: deps.executions.view(ex), actionalias: alias };
  const ack = alias.ack;
  if (!ack || Object.keys(ack).length === 0) return result;
  const context = { ...result };
  if (typeof ack.format === "string") {
    const format = ack.format;
    result.message = renderOr(() => renderTemplate(format, context, true), "format");
  }
  if (ack.extra) {
    result.extra = renderOr(() => renderValues(ack.extra, context, true), "extra");
  }
  return result;
}

function renderOr(render: () => unknown, field: string): unknown {
  try {
    return render();
  } catch (err) {
    if (err instanceof UndefinedError) return `Cannot render "${field}" in field "ack" for alias. ${err.message}`;
    throw err;
  }
}

/** Casts parsed text to the action's parameter types, as `cast_params` does before scheduling. */
function castParams(params: Record<string, unknown>, specs: Record<string, ParamSpec>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) {
    out[key] = typeof value === "string" ? castValue(value, specs[key]?.type) : value;
  }
  return out;
}

function castValue(value: string, type: ParamSpec["type"]): unknown {
  switch (type) {
    case "array":
      return value.split(",").map((v) => v.trim());
    case "integer":
      if (!/^\s*[-+]?\d+\s*$/.test(value)) throw new Fault(400, `invalid literal for int() with base 10: ${pyRepr(value)}`);
      return Number.parseInt(value, 10);
    case "number": {
      const n = Number(value);
      if (!value.trim() || Number.isNaN(n)) throw new Fault(400, `could not convert string to float: ${pyRepr(value)}`);
      return n;
    }
    case "boolean":
      return ["1", "true", "yes", "y", "on"].includes(value.toLowerCase());
    case "object":
      try {
        return JSON.parse(value);
      } catch {
        throw new Fault(400, "Expecting value: line 1 column 1 (char 0)");
      }
    default:
      return value;
  }
}
