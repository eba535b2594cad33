/**
 * The inquiry endpoints, answering as StackStorm's `InquiriesController` does: list the
 * pending ones, get one, respond (who may answer, then the response schema).
 */
import { INQUIRY_RESPONSE, bodyError, checkBody, fromJsonSchema } from "./bodies.ts";
import type { Call, RouteDeps } from "./call.ts";
import { Fault, NOT_FOUND, intParam, json } from "./http.ts";
import type { EmulatedExecution } from "./types.ts";

/** `GET /inquiries`: pending inquiries only, up to `limit` (default 20). */
export function listInquiries(deps: RouteDeps, call: Call): Response {
  const limit = intParam(call.query, "limit", 20);
  const pending = deps.state.executions.filter((e) => e.inquiry && e.status === "pending");
  const items = pending.slice(0, limit > 0 ? limit : undefined).map(inquiryView);
  return json(200, items, { "X-Total-Count": String(pending.length), "X-Limit": String(limit) });
}

/** `GET /inquiries/{id}`: one pending inquiry. */
export function getInquiry(deps: RouteDeps, id: string): Response {
  return json(200, inquiryView(checkInquiry(deps, id)));
}

/** `PUT /inquiries/{id}`: 403 for a user or role not allowed, 400 for a response off schema. */
export function respondInquiry(deps: RouteDeps, call: Call, id: string): Response {
  const body = checkBody(call.body, INQUIRY_RESPONSE);
  const ex = checkInquiry(deps, id);
  const user = call.credential!.user!;
  const { users = [], roles = [] } = ex.inquiry!;
  const userRoles = deps.state.isAdmin(call.credential!) ? ["admin"] : [];
  const rolesOk = roles.length === 0 || roles.some((r) => userRoles.includes(r));
  if (!rolesOk || (users.length > 0 && !users.includes(user))) {
    throw new Fault(403, `User "${user}" does not have permission to respond to inquiry "${id}".`);
  }
  const response = body.response as Record<string, unknown>;
  const problem = bodyError(response, fromJsonSchema(ex.inquiry!.schema ?? {}));
  if (problem) throw new Fault(400, `Response for inquiry "${id}" did not pass schema validation. ${problem}`);
  deps.executions.respond(ex, response);
  return json(200, { id, response });
}

/** `inquiry_service.check_inquiry`: 404 unknown, 400 not an inquiry / timed out / answered. */
function checkInquiry(deps: RouteDeps, id: string): EmulatedExecution {
  const ex = deps.state.execution(id);
  if (!ex) throw new Fault(404, NOT_FOUND);
  if (!ex.inquiry) throw new Fault(400, `Action execution "${id}" is not an inquiry.`);
  if (ex.status === "timeout") throw new Fault(400, `Inquiry "${id}" timed out and cannot be responded to.`);
  if (ex.status === "succeeded") throw new Fault(400, `Inquiry "${id}" has already been responded to.`);
  return ex;
}

function inquiryView(ex: EmulatedExecution): Record<string, unknown> {
  const { schema = {}, users = [], roles = [], route = "", ttl = 1440 } = ex.inquiry ?? {};
  return { id: ex.id, route, ttl, users, roles, schema };
}
