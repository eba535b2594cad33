/**
 * StackStorm's credential handling. A request's credential is the first of: header
 * `X-Auth-Token`, header `St2-Api-Key`, query `x-auth-token`, query `st2-api-key`, cookie
 * `auth-token` (st2common/router.py stops at the first present). Failures are 401 with
 * `Unauthorized - <reason>`, or a bare `Unauthorized` for an unknown token.
 */
import { Fault } from "./http.ts";
import type { EmulatorState } from "./state.ts";
import type { CredentialUse, IssuedToken } from "./types.ts";

/** The credential a request carries, unvalidated (for recording and for `authenticate`). */
export function findCredential(req: Request, query: Record<string, string>): CredentialUse | undefined {
  const header = (name: string) => req.headers.get(name) || undefined;
  const cookie = /(?:^|;\s*)auth-token=([^;]+)/.exec(req.headers.get("cookie") ?? "")?.[1];
  const candidates: [CredentialUse["kind"], CredentialUse["location"], string | undefined][] = [
    ["token", "header", header("x-auth-token")],
    ["api-key", "header", header("st2-api-key")],
    ["token", "query", query["x-auth-token"] || undefined],
    ["api-key", "query", query["st2-api-key"] || undefined],
    ["token", "cookie", cookie],
  ];
  const hit = candidates.find(([, , value]) => value);
  return hit ? { kind: hit[0], location: hit[1], value: hit[2]! } : undefined;
}

/** Validates the credential and fills in its user; throws StackStorm's 401 otherwise. */
export function authenticate(state: EmulatorState, credential: CredentialUse | undefined): CredentialUse & { user: string } {
  if (!credential) throw new Fault(401, "Unauthorized - One of Token or API key required.");
  const user = credential.kind === "token" ? state.userForToken(credential.value) : state.userForApiKey(credential.value);
  credential.user = user;
  return { ...credential, user };
}

/** Decodes `Authorization: Basic ...` and checks it against the users; null when it fails. */
export function basicLogin(state: EmulatorState, authorization: string | null): string | null {
  const m = /^basic\s+(.+)$/i.exec(authorization ?? "");
  if (!m) return null;
  let decoded: string;
  try {
    decoded = atob(m[1]!.trim());
  } catch {
    return null;
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) return null;
  const user = decoded.slice(0, colon);
  return Object.hasOwn(state.users, user) && state.users[user] === decoded.slice(colon + 1) ? user : null;
}

/** Whether a token value is currently valid (for `/tokens/validate`). */
export function tokenIsValid(state: EmulatorState, value: string): boolean {
  const token: IssuedToken | undefined = state.tokens.find((t) => t.token === value);
  return token !== undefined && token.expiry.getTime() > Date.now();
}
