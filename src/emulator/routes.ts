/**
 * The emulated endpoints, each answering as StackStorm's controller does: the same checks in
 * the same order, the same status codes and faultstrings. See shared/reference/st2-contract.md.
 * This is the table and the router; the handlers live one module per resource (authroutes,
 * aliasroutes, aliasexec, execroutes, inquiryroutes), the paging rules in paging.ts.
 */
import { getAlias, help, listAliases, match } from "./aliasroutes.ts";
import { aliasExecution, matchAndExecute } from "./aliasexec.ts";
import { authenticate } from "./auth.ts";
import { createToken, user, validateToken } from "./authroutes.ts";
import type { Call, RouteDeps } from "./call.ts";
import { cancelExecution, createExecution, getExecution, listExecutions, rerunExecution } from "./execroutes.ts";
import type { Executions } from "./executions.ts";
import { Fault, NOT_FOUND } from "./http.ts";
import { getInquiry, listInquiries, respondInquiry } from "./inquiryroutes.ts";
import { page } from "./paging.ts";
import type { EmulatorState } from "./state.ts";
import type { StreamHub } from "./stream.ts";
import type { EmulatorOptions } from "./types.ts";

export type { Call } from "./call.ts";

type Handler = (call: Call, params: string[]) => Response | Promise<Response>;
interface Route {
  method: string;
  pattern: RegExp;
  /** False for the token endpoint, which takes Basic auth instead (`security: []`). */
  secured: boolean;
  handle: Handler;
}

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

/** The emulator's route table: method and path → handler, credentials checked first. */
export class Routes {
  private readonly table: Route[];

  constructor(
    private readonly state: EmulatorState,
    executions: Executions,
    hub: StreamHub,
    opts: EmulatorOptions,
  ) {
    const r = (method: string, path: string, handle: Handler, secured = true): Route => ({
      method,
      pattern: new RegExp(`^${path.replace(/\{\w+\}/g, "([^/]+)")}/?$`),
      secured,
      handle,
    });
    const d: RouteDeps = { state, executions, opts };
    this.table = [
      r("POST", "/auth/v1/tokens", (c) => createToken(d, c), false),
      r("POST", "/auth/v1/tokens/validate", (c) => validateToken(d, c)),
      r("GET", "/api/v1/user", (c) => user(d, c)),
      r("GET", "/api/v1/actionalias", (c) => listAliases(d, c)),
      r("GET", "/api/v1/actionalias/help", (c) => help(d, c)),
      r("POST", "/api/v1/actionalias/match", (c) => match(d, c)),
      r("GET", "/api/v1/actionalias/{ref_or_id}", (_, p) => getAlias(d, p[0]!)),
      r("POST", "/api/v1/aliasexecution", (c) => aliasExecution(d, c)),
      r("POST", "/api/v1/aliasexecution/match_and_execute", (c) => matchAndExecute(d, c)),
      r("GET", "/api/v1/rules", (c) => page(state, c, opts.rules ?? CHATOPS_RULES)),
      r("GET", "/api/v1/executions", (c) => listExecutions(d, c)),
      r("POST", "/api/v1/executions", (c) => createExecution(d, c)),
      r("GET", "/api/v1/executions/{id}", (_, p) => getExecution(d, p[0]!)),
      r("DELETE", "/api/v1/executions/{id}", (c, p) => cancelExecution(d, c, p[0]!)),
      r("POST", "/api/v1/executions/{id}/re_run", (c, p) => rerunExecution(d, c, p[0]!)),
      r("GET", "/api/v1/executions/{id}/output", (c, p) => executions.output.response(state.execution(p[0]!), p[0]!, c.query.output_type)),
      r("GET", "/api/v1/inquiries", (c) => listInquiries(d, c)),
      r("GET", "/api/v1/inquiries/{id}", (_, p) => getInquiry(d, p[0]!)),
      r("PUT", "/api/v1/inquiries/{id}", (c, p) => respondInquiry(d, c, p[0]!)),
      r("GET", "/stream/v1/stream", (c) => hub.open(c.query.events, c.query.execution_ids)),
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
}
