/**
 * The client-side login page and its API, under `/login/`:
 *
 * - `GET /login/<id>` → the embedded page, for any id: the page asks whether its link is open,
 *   so the HTML never tells valid links from invalid ones.
 * - `GET /login/assets/login.js|login.css` → the page's script and style.
 * - `GET /login/session/<id>` → 200 `{open: true}` or 404 `{error}` (the one sentence said for
 *   unknown, expired, consumed and burned links alike).
 * - `POST /login/authenticate/<id>` with JSON `{shared_word, kind, username?, password?,
 *   token?, apikey?}` → 200 `{ok: true, user, message}` or `{error}` with 400 (names the field),
 *   401 (wrong shared word or credentials StackStorm refused), 403 (cross-site), 404 (invalid
 *   link), 413 (body over 8 KB), 415 (not JSON), 429 (rate limited, with Retry-After) or 502
 *   (StackStorm unreachable, or refusing st2bot's own credential needed to check a token).
 *
 * Order of checks for a login: cross-site (403) → per-address limit (429) → content type (415)
 * → size (413) → JSON and fields (400) → logins running at once, overall and per address (429)
 * → per-link limit (429) → the shared word and StackStorm (identities.login). A link whose shared
 * word or credentials fail `failuresPerSession` times is burned. No cookies are ever set; nothing secret (ids,
 * words, passwords, tokens) is logged.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import type { Config } from "../config/schema.ts";
import { INVALID_SESSION, type Identities, type LoginRequest } from "../auth/identity.ts";
import { loginHint } from "../bot/names.ts";
import { logger } from "../lib/log.ts";
import { staticPlugin } from "@elysiajs/static";
import { LOGIN_PAGE, STATIC_DIR, type Asset } from "./assets.ts";
import { SECURITY_HEADERS } from "./server.ts";
import { decodeJson, isJson, readLimited } from "./body.ts";
import { SlidingWindow } from "./limits.ts";

const log = logger("web.login");

/** Largest accepted login body. */
export const MAX_LOGIN_BODY_BYTES = 8192;

/** The abuse bounds of the login API (defaults in DEFAULT_LOGIN_LIMITS). */
export interface LoginLimits {
  /** Login attempts per client address in `windowMs` (default 10 per 5 minutes). */
  attemptsPerAddress: number;
  /** "Is this link open?" checks per client address in `windowMs` (default 60). */
  checksPerAddress: number;
  windowMs: number;
  /** Failed attempts (wrong shared word or credentials) after which a link is burned (default 5). */
  failuresPerSession: number;
  /**
   * Logins checked at once (default 4). Each costs an argon2id verification and a StackStorm
   * round trip; the bound keeps a flood of them from starving the rest of st2bot.
   */
  concurrentLogins: number;
}

/** The limits used where `LoginPluginOptions.limits` leaves one out. */
export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  attemptsPerAddress: 10,
  checksPerAddress: 60,
  windowMs: 5 * 60_000,
  failuresPerSession: 5,
  concurrentLogins: 4,
};

/** What the login routes need: the identities (sessions, StackStorm check, store) and the config. */
export interface LoginPluginOptions {
  identities: Identities;
  config: Config;
  limits?: Partial<LoginLimits>;
  /**
   * The client's address as the server resolved it (server.ts `peerAddress`: the TCP peer, or
   * the client a trusted proxy forwarded for). Forwarding headers are never read here: from an
   * untrusted peer they are the client's say-so. Requests without one share the key "unknown".
   */
  peerAddress?: (request: Request) => string | undefined;
  /** Milliseconds since the epoch; injected for tests. */
  clock?: () => number;
}

// ---------------------------------------------------------------------------------------------
// Request body

const text = (max: number) => v.pipe(v.string("must be text"), v.minLength(1, "is required"), v.maxLength(max, `must be at most ${max} characters`));
const sharedWord = text(256);

/** The body of `POST /login/authenticate/<id>`: exactly the fields of the chosen kind. */
export const LoginBodySchema = v.variant(
  "kind",
  [
    v.strictObject({ shared_word: sharedWord, kind: v.literal("password"), username: text(256), password: text(1024) }),
    v.strictObject({ shared_word: sharedWord, kind: v.literal("token"), token: text(1024) }),
    v.strictObject({ shared_word: sharedWord, kind: v.literal("apikey"), apikey: text(1024) }),
  ],
  'must be "password", "token" or "apikey"',
);

const NOT_AN_OBJECT = "the body must be a JSON object with shared_word and kind";

/** Validates a decoded body; the error names the offending field and never echoes its value. */
export function parseLoginBody(value: unknown): { ok: true; value: LoginRequest } | { ok: false; error: string } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, error: NOT_AN_OBJECT };
  const result = v.safeParse(LoginBodySchema, value);
  if (result.success) return { ok: true, value: result.output };
  const issue = result.issues[0];
  const field = v.getDotPath(issue);
  if (!field) return { ok: false, error: NOT_AN_OBJECT };
  // An unknown key's issue is reported under that key; say so rather than "invalid type".
  const message = issue.type === "strict_object" ? "is not expected for this kind" : issue.message;
  return { ok: false, error: `${field}: ${message}` };
}


// ---------------------------------------------------------------------------------------------
// Rate limits

/**
 * Failed logins per link, keyed by the id's hash (the id itself is a secret). An attempt holds
 * a slot while it runs, so parallel guesses cannot overrun the limit; a failed one keeps it.
 */
class SessionAttempts {
  private readonly counts = new Map<string, { failed: number; running: number; since: number }>();

  constructor(
    private readonly max: number,
    private readonly forgetAfterMs: number,
  ) {}

  /** Starts an attempt: "ok", "busy" (too many running at once) or "burned" (too many failed). */
  begin(key: string, now: number): "ok" | "busy" | "burned" {
    for (const [k, c] of this.counts) if (c.running === 0 && c.since < now - this.forgetAfterMs) this.counts.delete(k);
    const entry = this.counts.get(key) ?? { failed: 0, running: 0, since: now };
    if (entry.failed >= this.max) return "burned";
    if (entry.failed + entry.running >= this.max) return "busy";
    entry.running++;
    this.counts.set(key, entry);
    return "ok";
  }

  /** Ends an attempt; returns true when the link has now failed too often. */
  end(key: string, outcome: "failed" | "neutral" | "succeeded"): boolean {
    const entry = this.counts.get(key);
    if (!entry) return false;
    entry.running--;
    if (outcome === "failed") entry.failed++;
    if (outcome === "succeeded" || (entry.failed === 0 && entry.running === 0)) this.counts.delete(key);
    return entry.failed >= this.max;
  }
}

// ---------------------------------------------------------------------------------------------
// Responses

/**
 * The login routes' headers: the server's strict set (CSP `default-src 'self'` and friends, set
 * here too so the routes stay strict wherever they are mounted) plus isolation from other origins.
 */
const LOGIN_HEADERS: Record<string, string> = {
  ...SECURITY_HEADERS,
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "x-robots-tag": "noindex, nofollow",
};

function json(status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...LOGIN_HEADERS, "content-type": "application/json; charset=utf-8", ...headers } });
}

/**
 * `GET /login/assets/<file>`: @elysiajs/static over the embedded folder (assets.ts). With
 * `alwaysStatic` it lists the folder once, at start, and registers one route per file, so no
 * request path ever reaches the file system. The login headers; never cached, like every answer.
 */
const staticAssets = await staticPlugin({
  assets: STATIC_DIR,
  prefix: "/login/assets",
  alwaysStatic: true,
  indexHTML: false,
  headers: Object.fromEntries(Object.entries(LOGIN_HEADERS).filter(([name]) => name !== "cache-control")),
  maxAge: 0,
  directive: "no-store",
});

const asset = (a: Asset) => new Response(a.body, { headers: { ...LOGIN_HEADERS, "content-type": a.type } });
const tooMany = (retryAfter: number, error = "Too many attempts from your address; please wait a few minutes and try again.") =>
  json(429, { error }, { "retry-after": String(retryAfter) });

const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");

// ---------------------------------------------------------------------------------------------
// The plugin

/** The login routes; mount on the server from createServer. */
export function loginPlugin(opts: LoginPluginOptions) {
  const { identities } = opts;
  const limits = { ...DEFAULT_LOGIN_LIMITS, ...opts.limits };
  const now = opts.clock ?? Date.now;
  const attempts = new SlidingWindow(limits.attemptsPerAddress, limits.windowMs);
  const checks = new SlidingWindow(limits.checksPerAddress, limits.windowMs);
  const failures = new SessionAttempts(limits.failuresPerSession, opts.config.stackstorm.session_ttl * 1000 + limits.windowMs);
  const burned = `Too many failed attempts: this login link no longer works. To get a new one, ${loginHint(opts.config)}.`;
  const addressOf = (request: Request) => opts.peerAddress?.(request) ?? "unknown";
  let running = 0;
  const runningBy = new Map<string, number>();

  /** Everything before the shared word is looked at: transport, limits, body. */
  const readLogin = async (request: Request, address: string): Promise<Response | LoginRequest> => {
    // Browsers say where a request comes from; a page on another site may not log anyone in.
    if (request.headers.get("sec-fetch-site") === "cross-site") return json(403, { error: "cross-site requests are not accepted" });
    const limited = attempts.take(address, now());
    if (!limited.ok) return tooMany(limited.retryAfter);
    if (!isJson(request.headers.get("content-type"))) return json(415, { error: "the body must be JSON (Content-Type: application/json)" });
    const body = await readLimited(request, MAX_LOGIN_BODY_BYTES);
    if (!body) return json(413, { error: `the body is larger than ${MAX_LOGIN_BODY_BYTES} bytes` });
    const decoded = decodeJson(body);
    if (!decoded.ok) return json(400, { error: decoded.error });
    const parsed = parseLoginBody(decoded.value);
    return parsed.ok ? parsed.value : json(400, { error: parsed.error });
  };

  const authenticate = async (request: Request, id: string): Promise<Response> => {
    const address = addressOf(request);
    const login = await readLogin(request, address);
    if (login instanceof Response) return login;
    if (running >= limits.concurrentLogins) return tooMany(5, "st2bot is busy checking other logins; please try again in a few seconds.");
    // One address may hold at most half the slots, so a single client cannot fill the cap.
    const mine = runningBy.get(address) ?? 0;
    if (mine >= Math.max(1, Math.floor(limits.concurrentLogins / 2))) return tooMany(5, "Your other login attempts are still being checked; please try again in a few seconds.");
    const key = sha256(id);
    const started = failures.begin(key, now());
    if (started === "burned") return tooMany(Math.ceil(limits.windowMs / 1000), burned);
    if (started === "busy") return tooMany(5, "Another login attempt on this link is still running; please try again in a moment.");
    running++;
    runningBy.set(address, mine + 1);
    const result = await identities.login(id, login).catch((err: unknown) => {
      failures.end(key, "neutral");
      throw err;
    }).finally(() => {
      running--;
      const left = (runningBy.get(address) ?? 1) - 1;
      if (left > 0) runningBy.set(address, left);
      else runningBy.delete(address);
    });
    if (result.ok) {
      failures.end(key, "succeeded");
      const user = result.st2User ?? null;
      const message = `You are logged in to StackStorm${user ? ` as ${user}` : ""}. You can close this page and go back to chat.`;
      return json(200, { ok: true, user, message });
    }
    if (result.status !== 401) {
      failures.end(key, "neutral");
      return json(result.status, { error: result.error });
    }
    log.info("a login attempt failed", { address, kind: login.kind });
    if (!failures.end(key, "failed")) return json(401, { error: result.error });
    await identities.sessions.burn(id);
    log.warn("a login link was burned after too many failed attempts", { address });
    return tooMany(Math.ceil(limits.windowMs / 1000), burned);
  };

  const sessionState = async (request: Request, id: string): Promise<Response> => {
    const limited = checks.take(addressOf(request), now());
    if (!limited.ok) return tooMany(limited.retryAfter);
    return (await identities.sessions.isOpen(id)) ? json(200, { open: true }) : json(404, { error: INVALID_SESSION });
  };

  return new Elysia({ name: "st2bot.login" })
    .use(staticAssets)
    .get("/login/session/:id", ({ request, params }) => sessionState(request, params.id))
    .post("/login/authenticate/:id", ({ request, params }) => authenticate(request, params.id), { parse: "none" })
    .get("/login/:id", () => asset(LOGIN_PAGE));
}
