/**
 * The emulated endpoints, each answering as StackStorm's controller does: the same checks in
 * the same order, the same status codes and faultstrings. See shared/reference/st2-contract.md.
 */
import { authenticate, basicLogin, tokenIsValid } from "./auth.ts";
import {
  ALIAS_EXECUTION,
  ALIAS_MATCH,
  EXECUTION_REQUEST,
  INQUIRY_RESPONSE,
  MATCH_AND_EXECUTE,
  TOKEN_REQUEST,
  TOKEN_VALIDATION,
  bodyError,
  checkBody,
  fromJsonSchema,
  parameterNameError,
} from "./bodies.ts";
import { formatStrings } from "./engine.ts";
import { cancelExecution, excludeAttributes, filterExecutions, rerunExecution, type ExecRouteDeps } from "./execroutes.ts";
import type { Executions } from "./executions.ts";
import { Fault, NOT_FOUND, intParam, isoMicro, json } from "./http.ts";
import { UndefinedError, renderTemplate, renderValues } from "./jinja.ts";
import { pyRepr } from "./python.ts";
import type { EmulatorState } from "./state.ts";
import type { StreamHub } from "./stream.ts";
import type { CredentialUse, EmulatedExecution, EmulatorOptions, ParamSpec, StoredAlias } from "./types.ts";
import { describeError } from "../lib/errors.ts";

/** One parsed request as the routes see it. */
export interface Call {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  bodyError?: string;
  authorization: string | null;
  credential?: CredentialUse;
}

type Handler = (call: Call, params: string[]) => Response | Promise<Response>;
interface Route {
  method: string;
  pattern: RegExp;
  /** False for the token endpoint, which takes Basic auth instead (`security: []`). */
  secured: boolean;
  handle: Handler;
}

const MAX_PAGE_SIZE = 100;

/** The notify rules a fresh StackStorm's chatops pack registers (routes as in the pack). */
const CHATOPS_RULES = ["errbot", "hubot"].map((route, i) => ({
  id: `5e00000000000000000000${String(i + 1).padStart(2, "0")}`,
  ref: `chatops.notify-${route}`,
  name: `notify-${route}`,
  pack: "chatops",
  enabled: true,
  trigger: { type: "core.st2.generic.notifytrigger", parameters: {} },
  criteria: { "trigger.route": { pattern: route, type: "equals" } },
  action: { ref: "chatops.post_result", parameters: {} },
}));

export class Routes {
  private readonly table: Route[];
  private readonly execDeps: ExecRouteDeps;

  constructor(
    private readonly state: EmulatorState,
    private readonly executions: Executions,
    private readonly hub: StreamHub,
    private readonly opts: EmulatorOptions,
  ) {
    const r = (method: string, path: string, handle: Handler, secured = true): Route => ({
      method,
      pattern: new RegExp(`^${path.replace(/\{\w+\}/g, "([^/]+)")}/?$`),
      secured,
      handle,
    });
    this.execDeps = { state, executions, canExecute: opts.canExecute };
    this.table = [
      r("POST", "/auth/v1/tokens", (c) => this.createToken(c), false),
      r("POST", "/auth/v1/tokens/validate", (c) => this.validateToken(c)),
      r("GET", "/api/v1/user", (c) => this.user(c)),
      r("GET", "/api/v1/actionalias", (c) => this.listAliases(c)),
      r("GET", "/api/v1/actionalias/help", (c) => this.help(c)),
      r("POST", "/api/v1/actionalias/match", (c) => this.match(c)),
      r("GET", "/api/v1/actionalias/{ref_or_id}", (_, p) => this.getAlias(p[0]!)),
      r("POST", "/api/v1/aliasexecution", (c) => this.aliasExecution(c)),
      r("POST", "/api/v1/aliasexecution/match_and_execute", (c) => this.matchAndExecute(c)),
      r("GET", "/api/v1/rules", (c) => this.page(c, this.opts.rules ?? CHATOPS_RULES)),
      r("GET", "/api/v1/executions", (c) => this.listExecutions(c)),
      r("POST", "/api/v1/executions", (c) => this.createExecution(c)),
      r("GET", "/api/v1/executions/{id}", (_, p) => this.getExecution(p[0]!)),
      r("DELETE", "/api/v1/executions/{id}", (c, p) => cancelExecution(this.execDeps, c, p[0]!)),
      r("POST", "/api/v1/executions/{id}/re_run", (c, p) => rerunExecution(this.execDeps, c, p[0]!)),
      r("GET", "/api/v1/inquiries", (c) => this.listInquiries(c)),
      r("GET", "/api/v1/inquiries/{id}", (_, p) => this.getInquiry(p[0]!)),
      r("PUT", "/api/v1/inquiries/{id}", (c, p) => this.respondInquiry(c, p[0]!)),
      r("GET", "/stream/v1/stream", (c) => this.hub.open(c.query.events)),
    ];
  }

  /** Routes a call: unknown path/method → 404, then credentials, then the body, then the handler. */
  async handle(call: Call): Promise<Response> {
    for (const route of this.table) {
      const m = route.method === call.method ? route.pattern.exec(call.path) : null;
      if (!m) continue;
      const params = m.slice(1).map(decodeURIComponent);
      if (route.secured) call.credential = authenticate(this.state, call.credential);
      if (call.bodyError) throw new Fault(400, call.bodyError);
      return route.handle(call, params);
    }
    throw new Fault(404, NOT_FOUND);
  }

  // ---- auth ----

  private createToken(call: Call): Response {
    const user = basicLogin(this.state, call.authorization);
    if (!user) throw new Fault(401, "Invalid or missing credentials");
    const body = checkBody(call.body, TOKEN_REQUEST);
    const max = this.opts.maxTokenTtl ?? 86400;
    const ttl = typeof body.ttl === "number" ? body.ttl : max;
    if (ttl > max) throw new Fault(400, `TTL specified ${ttl} is greater than max allowed ${max}.`);
    const token = this.state.issueToken(user, ttl);
    return json(201, { user, token: token.token, expiry: isoMicro(token.expiry), id: token.id, metadata: {} });
  }

  private validateToken(call: Call): Response {
    const body = checkBody(call.body, TOKEN_VALIDATION);
    if (typeof body.token !== "string" || !body.token) throw new Fault(400, "Token is not provided.");
    return json(200, { valid: tokenIsValid(this.state, body.token) });
  }

  private user(call: Call): Response {
    const cred = call.credential!;
    const authentication: Record<string, string> = {
      method: cred.kind === "token" ? "authentication token" : "API key",
      location: cred.location,
    };
    const token = cred.kind === "token" ? this.state.tokens.find((t) => t.token === cred.value) : undefined;
    if (token) authentication.token_expire = token.expiry.toISOString().replace(/\.\d{3}Z$/, "Z");
    const isAdmin = this.state.isAdmin(cred);
    return json(200, { username: cred.user, authentication, rbac: { enabled: true, roles: isAdmin ? ["admin"] : [], is_admin: isAdmin } });
  }

  // ---- aliases ----

  private listAliases(call: Call): Response {
    const { pack, name } = call.query;
    const all = this.state.aliases.filter((a) => (!pack || a.pack === pack) && (!name || a.name === name));
    return this.page(call, all);
  }

  private getAlias(refOrId: string): Response {
    // The spec's `(?!match)(?!help)` requirement: these names are not ids.
    if (/^(match|help)/.test(refOrId)) throw new Fault(404, NOT_FOUND);
    const alias = this.state.findAlias(refOrId);
    if (!alias) throw new Fault(404, `Resource with a reference or id "${refOrId}" not found`);
    return json(200, alias);
  }

  private help(call: Call): Response {
    const limit = intParam(call.query, "limit", 100);
    const offset = intParam(call.query, "offset", 0);
    const { pack, filter } = call.query;
    return json(200, this.state.engine.help({ pack: pack || undefined, filter: filter || undefined, limit, offset }));
  }

  private match(call: Call): Response {
    const body = checkBody(call.body, ALIAS_MATCH);
    const verdict = this.state.engine.match(body.command as string);
    if (!verdict.ok) throw new Fault(400, verdict.faultstring);
    return json(200, { actionalias: verdict.alias, display: verdict.display, representation: verdict.representation });
  }

  // ---- alias execution ----

  private aliasExecution(call: Call): Response {
    const body = checkBody(call.body, ALIAS_EXECUTION);
    const [result] = this.execute(call.credential!, body, false);
    return json(201, result);
  }

  private matchAndExecute(call: Call): Response {
    const body = checkBody(call.body, MATCH_AND_EXECUTE);
    const command = body.command as string;
    const verdict = this.state.engine.match(command);
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
    return json(201, { results: this.execute(call.credential!, payload, verdict.matchMultiple) });
  }

  /** `ActionAliasExecutionController._post`: checks, parameters, executions, rendered acks. */
  private execute(cred: CredentialUse, body: Record<string, unknown>, multiple: boolean): Record<string, unknown>[] {
    const name = body.name as string;
    const alias = this.state.aliases.find((a) => a.name === name);
    if (!alias) throw new Fault(404, `Unable to identify action alias with name "${name}".`);
    if (!alias.enabled) throw new Fault(400, `Action alias with name "${name}" is disabled.`);
    const format = body.format as string;
    if (!formatStrings(alias).includes(format)) {
      throw new Fault(400, `Format string "${format}" is not available on the alias "${alias.name}"`);
    }
    let paramSets: Record<string, unknown>[];
    try {
      paramSets = this.state.engine.extract(format, body.command as string, multiple);
    } catch (err) {
      throw new Fault(400, describeError(err));
    }
    const immutable = alias.immutable_parameters ?? {};
    const overridden = (p: Record<string, unknown>) => Object.keys(immutable).filter((k) => k in p);
    for (const params of paramSets) {
      if (overridden(params).length) throw new Fault(400, `Immutable arguments cannot be overriden: ${overridden(params).join(",")}`);
      Object.assign(params, renderValues(immutable, { user: cred.user }, false));
    }
    const action = this.state.action(alias.action_ref);
    this.checkExecute(cred, action.ref);
    const casted = paramSets.map((p) => castParams(p, action.parameters ?? {}));
    const notifyRoute = (body.notification_route as string) || (body.notification_channel as string) || undefined;
    return casted.map((parameters) => {
      const ex = this.executions.create({
        action,
        alias,
        parameters,
        user: cred.user!,
        apiUser: body.user as string | undefined,
        sourceChannel: body.source_channel as string | undefined,
        sourceContext: body.source_context,
        notifyRoute,
      });
      return this.ackFor(ex, alias);
    });
  }

  /** The 201 body: execution, alias, and the rendered `ack.format` / `ack.extra`. */
  private ackFor(ex: EmulatedExecution, alias: StoredAlias): Record<string, unknown> {
    const result: Record<string, unknown> = { execution: this.executions.view(ex), actionalias: alias };
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

  // ---- executions ----

  /** RBAC's `action_execute` on the action, as `assert_user_has_resource_db_permission` answers. */
  private checkExecute(cred: CredentialUse, ref: string): void {
    if (!this.opts.canExecute || this.opts.canExecute(cred.user!, ref)) return;
    const [pack, ...rest] = ref.split(".");
    throw new Fault(403, `User "${cred.user}" doesn't have required permission "action_execute" on resource "action:${pack}:${rest.join(".")}"`);
  }

  /**
   * `ActionExecutionsController.post` (`_handle_schedule_execution`): body schema, then the
   * action must exist (400), RBAC (403), and only admins may run as another `user` (403).
   */
  private createExecution(call: Call): Response {
    const body = checkBody(call.body, EXECUTION_REQUEST);
    const parameters = (body.parameters ?? {}) as Record<string, unknown>;
    const badName = parameterNameError(parameters);
    if (badName) throw new Fault(400, badName);
    const cred = call.credential!;
    const ref = body.action as string;
    const action = this.state.registeredAction(ref);
    if (!action) throw new Fault(400, `Action "${ref}" cannot be found.`);
    this.checkExecute(cred, ref);
    const user = (body.user as string | null | undefined) || cred.user!;
    if (user !== cred.user && !this.state.isAdmin(cred)) throw new Fault(403, '"user" attribute can only be provided by admins');
    const ex = this.executions.create({ action, parameters: { ...parameters }, user });
    return json(201, this.executions.view(ex));
  }

  private listExecutions(call: Call): Response {
    return this.page(call, filterExecutions(this.state.executions, call.query).map((e) => excludeAttributes(this.executions.view(e), call.query)));
  }

  private getExecution(id: string): Response {
    const ex = this.state.execution(id);
    if (!ex) throw new Fault(404, `Unable to identify resource with id "${id}".`);
    return json(200, this.executions.view(ex));
  }

  // ---- inquiries ----

  private listInquiries(call: Call): Response {
    const limit = intParam(call.query, "limit", 20);
    const pending = this.state.executions.filter((e) => e.inquiry && e.status === "pending");
    const items = pending.slice(0, limit > 0 ? limit : undefined).map(inquiryView);
    return json(200, items, { "X-Total-Count": String(pending.length), "X-Limit": String(limit) });
  }

  private getInquiry(id: string): Response {
    return json(200, inquiryView(this.checkInquiry(id)));
  }

  private respondInquiry(call: Call, id: string): Response {
    const body = checkBody(call.body, INQUIRY_RESPONSE);
    const ex = this.checkInquiry(id);
    const user = call.credential!.user!;
    const { users = [], roles = [] } = ex.inquiry!;
    const userRoles = this.state.isAdmin(call.credential!) ? ["admin"] : [];
    const rolesOk = roles.length === 0 || roles.some((r) => userRoles.includes(r));
    if (!rolesOk || (users.length > 0 && !users.includes(user))) {
      throw new Fault(403, `User "${user}" does not have permission to respond to inquiry "${id}".`);
    }
    const response = body.response as Record<string, unknown>;
    const problem = bodyError(response, fromJsonSchema(ex.inquiry!.schema ?? {}));
    if (problem) throw new Fault(400, `Response for inquiry "${id}" did not pass schema validation. ${problem}`);
    this.executions.respond(ex, response);
    return json(200, { id, response });
  }

  /** `inquiry_service.check_inquiry`: 404 unknown, 400 not an inquiry / timed out / answered. */
  private checkInquiry(id: string): EmulatedExecution {
    const ex = this.state.execution(id);
    if (!ex) throw new Fault(404, NOT_FOUND);
    if (!ex.inquiry) throw new Fault(400, `Action execution "${id}" is not an inquiry.`);
    if (ex.status === "timeout") throw new Fault(400, `Inquiry "${id}" timed out and cannot be responded to.`);
    if (ex.status === "succeeded") throw new Fault(400, `Inquiry "${id}" has already been responded to.`);
    return ex;
  }

  // ---- paging ----

  /** `ResourceController._get_all` paging: limit rules, X-Total-Count and X-Limit headers. */
  private page(call: Call, all: readonly unknown[]): Response {
    const offset = intParam(call.query, "offset", 0);
    if (offset >= 2 ** 31) throw new Fault(400, `Offset "${offset}" specified is more than 32-bit int`);
    const limit = validateLimit(intParam(call.query, "limit", 100), this.state.isAdmin(call.credential!));
    const items = all.slice(offset, limit ? offset + limit : undefined);
    const headers: Record<string, string> = { "X-Total-Count": String(all.length) };
    if (limit) headers["X-Limit"] = String(limit);
    return json(200, items, headers);
  }
}

/** `validate_limit_query_param`: 0 means "all" (admins asking for -1). */
function validateLimit(limit: number, isAdmin: boolean): number {
  if (limit === -1) {
    if (!isAdmin) throw new Fault(403, "Administrator access required to be able to specify limit=-1 and retrieve all the records");
    return 0;
  }
  if (limit <= -2) throw new Fault(400, `Limit, "${limit}" specified, must be a positive number.`);
  if (limit === 0) throw new Fault(400, `Limit, "0" specified, must be a positive number or -1 for full result set.`);
  if (limit > MAX_PAGE_SIZE && !isAdmin) throw new Fault(403, `Limit "${limit}" specified, maximum value is "${MAX_PAGE_SIZE}"`);
  return limit;
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

function inquiryView(ex: EmulatedExecution): Record<string, unknown> {
  const { schema = {}, users = [], roles = [], route = "", ttl = 1440 } = ex.inquiry ?? {};
  return { id: ex.id, route, ttl, users, roles, schema };
}
