/**
 * The action-alias endpoints, answering as StackStorm's `ActionAliasController` does: list,
 * get by ref or id, help, and match. Executing an alias is aliasexec.ts.
 */
import { ALIAS_MATCH, checkBody } from "./bodies.ts";
import type { Call, RouteDeps } from "./call.ts";
import { Fault, NOT_FOUND, intParam, json } from "./http.ts";
import { page } from "./paging.ts";

/** `GET /actionalias`, filtered by `pack` and `name`, paged. */
export function listAliases(deps: RouteDeps, call: Call): Response {
  const { pack, name } = call.query;
  const all = deps.state.aliases.filter((a) => (!pack || a.pack === pack) && (!name || a.name === name));
  return page(deps.state, call, all);
}

/** `GET /actionalias/{ref_or_id}`; `match…` and `help…` are never ids (404). */
export function getAlias(deps: RouteDeps, refOrId: string): Response {
  // The spec's `(?!match)(?!help)` requirement: these names are not ids.
  if (/^(match|help)/.test(refOrId)) throw new Fault(404, NOT_FOUND);
  const alias = deps.state.findAlias(refOrId);
  if (!alias) throw new Fault(404, `Resource with a reference or id "${refOrId}" not found`);
  return json(200, alias);
}

/** `GET /actionalias/help`: the engine's help, with `pack`, `filter`, `limit`, `offset`. */
export function help(deps: RouteDeps, call: Call): Response {
  const limit = intParam(call.query, "limit", 100);
  const offset = intParam(call.query, "offset", 0);
  const { pack, filter } = call.query;
  return json(200, deps.state.engine.help({ pack: pack || undefined, filter: filter || undefined, limit, offset }));
}

/** `POST /actionalias/match`: the one alias matching `command`, or StackStorm's 400. */
export function match(deps: RouteDeps, call: Call): Response {
  const body = checkBody(call.body, ALIAS_MATCH);
  const verdict = deps.state.engine.match(body.command as string);
  if (!verdict.ok) throw new Fault(400, verdict.faultstring);
  return json(200, { actionalias: verdict.alias, display: verdict.display, representation: verdict.representation });
}
