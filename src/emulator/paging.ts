/** StackStorm's listing rules (`ResourceController._get_all`), shared by every paged endpoint. */
import type { Call } from "./call.ts";
import { Fault, intParam, json } from "./http.ts";
import type { EmulatorState } from "./state.ts";

const MAX_PAGE_SIZE = 100;

/** `ResourceController._get_all` paging: limit rules, X-Total-Count and X-Limit headers. */
export function page(state: EmulatorState, call: Call, all: readonly unknown[]): Response {
  const offset = intParam(call.query, "offset", 0);
  if (offset >= 2 ** 31) throw new Fault(400, `Offset "${offset}" specified is more than 32-bit int`);
  const limit = validateLimit(intParam(call.query, "limit", 100), state.isAdmin(call.credential!));
  const items = all.slice(offset, limit ? offset + limit : undefined);
  const headers: Record<string, string> = { "X-Total-Count": String(all.length) };
  if (limit) headers["X-Limit"] = String(limit);
  return json(200, items, headers);
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
