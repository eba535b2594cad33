/**
 * The token and identity endpoints, answering as StackStorm's auth service and
 * `UserController` do: `POST /tokens` (Basic auth), `POST /tokens/validate`, `GET /user`.
 */
import { basicLogin, tokenIsValid } from "./auth.ts";
import { TOKEN_REQUEST, TOKEN_VALIDATION, checkBody } from "./bodies.ts";
import type { Call, RouteDeps } from "./call.ts";
import { Fault, isoMicro, json } from "./http.ts";

/** `POST /auth/v1/tokens`: Basic credentials → a token; a TTL above the cap is refused (400). */
export function createToken(deps: RouteDeps, call: Call): Response {
  const user = basicLogin(deps.state, call.authorization);
  if (!user) throw new Fault(401, "Invalid or missing credentials");
  const body = checkBody(call.body, TOKEN_REQUEST);
  const max = deps.opts.maxTokenTtl ?? 86400;
  const ttl = typeof body.ttl === "number" ? body.ttl : max;
  if (ttl > max) throw new Fault(400, `TTL specified ${ttl} is greater than max allowed ${max}.`);
  const token = deps.state.issueToken(user, ttl);
  return json(201, { user, token: token.token, expiry: isoMicro(token.expiry), id: token.id, metadata: {} });
}

/** `POST /auth/v1/tokens/validate`: `{valid}` for the given token. */
export function validateToken(deps: RouteDeps, call: Call): Response {
  const body = checkBody(call.body, TOKEN_VALIDATION);
  if (typeof body.token !== "string" || !body.token) throw new Fault(400, "Token is not provided.");
  return json(200, { valid: tokenIsValid(deps.state, body.token) });
}

/** `GET /api/v1/user`: who the credential belongs to, how it was presented, RBAC flags. */
export function user(deps: RouteDeps, call: Call): Response {
  const cred = call.credential!;
  const authentication: Record<string, string> = {
    method: cred.kind === "token" ? "authentication token" : "API key",
    location: cred.location,
  };
  const token = cred.kind === "token" ? deps.state.tokens.find((t) => t.token === cred.value) : undefined;
  if (token) authentication.token_expire = token.expiry.toISOString().replace(/\.\d{3}Z$/, "Z");
  const isAdmin = deps.state.isAdmin(cred);
  return json(200, { username: cred.user, authentication, rbac: { enabled: true, roles: isAdmin ? ["admin"] : [], is_admin: isAdmin } });
}
