/**
 * StackStorm's REST API as typed calls. Every authenticated call carries the header of one
 * credential provider; a 401 asks the provider to renew and retries once. The client keeps
 * the last auth verdict (`health()`) so `!status` and the log can say in plain words that
 * StackStorm stopped accepting the credential, and re-checks it on a timer when asked.
 */
import * as v from "valibot";
import type { Config } from "../config/schema.ts";
import { logger } from "../lib/log.ts";
import { St2ApiError, St2Http, pathOf, type FetchFn } from "./http.ts";
import { botProvider, MissingCredentialProvider, type CredentialProvider } from "./credentials.ts";
import {
  ActionAliasSchema,
  AliasExecutionSchema,
  isAliasExecution,
  AliasHelpSchema,
  ExecutionSchema,
  InquiryResponseSchema,
  InquirySchema,
  MatchAndExecuteSchema,
  TokenSchema,
  TokenValidationSchema,
  UserInfoSchema,
  type ActionAlias,
  type AliasExecution,
  type AliasHelp,
  type Execution,
  type Inquiry,
  type InquiryResponse,
  type MatchAndExecute,
  type Token,
  type UserInfo,
} from "./schemas.ts";

const log = logger("st2.client");

/** The three StackStorm roots, without trailing slashes (`https://st2/api/v1`). */
export interface St2Urls {
  api: string;
  auth: string;
  stream: string;
}

/** The last verdict on the client's credential. */
export interface AuthHealth {
  /** `unknown` until the first authenticated answer. */
  state: "unknown" | "ok" | "failing";
  /** Why it is failing (StackStorm's faultstring or the renewal error); absent when ok. */
  reason?: string;
  /** When the state last changed. */
  since: Date;
  /** The credential, described safely (`api key …abcd`). */
  credential: string;
}

/** The body of `POST /api/v1/aliasexecution`; only these keys are sent (StackStorm rejects others). */
export interface AliasExecutionRequest {
  name: string;
  format: string;
  command: string;
  source_channel: string;
  user?: string;
  source_context?: Record<string, unknown>;
  notification_channel?: string;
  notification_route?: string;
}

/** The body of `POST /api/v1/aliasexecution/match_and_execute` (no `source_context` here). */
export interface MatchAndExecuteRequest {
  command: string;
  source_channel: string;
  user: string;
  notification_channel?: string;
  notification_route?: string;
}

/**
 * The body of `POST /api/v1/executions` as st2bot sends it: an action ref and its parameters.
 * StackStorm's `LiveActionCreateAPI` refuses keys it does not know, and parameter names must be
 * word characters (`^\w+$`).
 */
export interface ExecutionRequest {
  action: string;
  parameters?: Record<string, unknown>;
}

/** The paging and filters of `GET /actionalias/help`, passed through as query parameters. */
export interface AliasHelpQuery {
  pack?: string;
  /** A case-insensitive regular expression on `display`: escape user text before passing it. */
  filter?: string;
  limit?: number;
  offset?: number;
}

/** The answer of `probeApiKey`. */
export type ProbeResult = { valid: true; user: UserInfo } | { valid: false; reason: string };

/** What a client is made of; `fromConfig` builds the bot's from `[stackstorm]`. */
export interface St2ClientOptions {
  http: St2Http;
  urls: St2Urls;
  provider: CredentialProvider;
  /** Whose credential, for the log: "the bot's" for st2bot's own client. */
  whose?: string;
}

/** StackStorm's page cap for non-admin users; also the page size st2bot asks for. */
export const PAGE_SIZE = 100;
/** A bound on paging so a server that never says "last page" cannot loop us forever. */
const MAX_PAGES = 1_000;
/** A cheap authenticated GET that tells who the credential belongs to. */
const PROBE_PATH = "/user";

const EXECUTION_KEYS = [
  "name",
  "format",
  "command",
  "source_channel",
  "user",
  "source_context",
  "notification_channel",
  "notification_route",
] as const satisfies ReadonlyArray<keyof AliasExecutionRequest>;

const MATCH_KEYS = [
  "command",
  "source_channel",
  "user",
  "notification_channel",
  "notification_route",
] as const satisfies ReadonlyArray<keyof MatchAndExecuteRequest>;

const EXECUTION_CREATE_KEYS = ["action", "parameters"] as const satisfies ReadonlyArray<keyof ExecutionRequest>;

/** Typed StackStorm calls as one identity (see the file comment for the 401 and health rules). */
export class St2Client {
  readonly http: St2Http;
  readonly urls: St2Urls;
  readonly provider: CredentialProvider;
  private auth: AuthHealth;
  private healthTimer: ReturnType<typeof setInterval> | undefined;
  private readonly whose: string;

  constructor(opts: St2ClientOptions) {
    this.http = opts.http;
    this.whose = opts.whose ?? "the";
    this.urls = {
      api: trimSlash(opts.urls.api),
      auth: trimSlash(opts.urls.auth),
      stream: trimSlash(opts.urls.stream),
    };
    this.provider = opts.provider;
    this.auth = { state: "unknown", since: new Date(), credential: this.provider.describe() };
  }

  /**
   * The bot's client: TLS options and URLs from `[stackstorm]`, the bot's credential in the
   * bridges' precedence (API key, token, user/password).
   */
  static fromConfig(config: Config, extra: { fetch?: FetchFn; timeoutMs?: number } = {}): St2Client {
    const s = config.stackstorm;
    const http = St2Http.fromConfig(s, extra);
    const urls = { api: s.api_url, auth: s.auth_url, stream: s.stream_url };
    const anonymous = new St2Client({ http, urls, provider: new MissingCredentialProvider() });
    const provider = botProvider(config, async (user, password, ttl) => {
      const t = await anonymous.createToken(user, password, ttl);
      return { token: t.token, expiry: new Date(t.expiry) };
    });
    return new St2Client({ http, urls: anonymous.urls, provider, whose: "the bot's" });
  }

  /** A client acting as another StackStorm identity, sharing this one's HTTP layer. */
  withCredential(provider: CredentialProvider): St2Client {
    return new St2Client({ http: this.http, urls: this.urls, provider });
  }

  // ---- auth ------------------------------------------------------------------------------

  /**
   * `POST <auth>/tokens` with Basic auth: a token for `user` valid for `ttlSeconds`. Nothing is
   * registered for log masking here: the password may be a chat user's guess, and masking
   * unchecked text would let anyone erase words from the log. The caller masks the token it
   * keeps (the bot's provider for good, a user's login while remembered); neither the password
   * nor the Basic header is ever logged.
   */
  async createToken(user: string, password: string, ttlSeconds: number): Promise<Token> {
    const basic = Buffer.from(`${user}:${password}`, "utf8").toString("base64");
    const res = await this.http.request("POST", `${this.urls.auth}/tokens`, {
      headers: { Authorization: `Basic ${basic}` },
      json: { ttl: Math.round(ttlSeconds) },
    });
    return parse(TokenSchema, res.body, "POST", `${this.urls.auth}/tokens`, res.status);
  }

  /**
   * `POST <auth>/tokens/validate`, authenticated as this client: is `token` still valid?
   * (Not masked here: see `createToken`; the caller remembers it once this says yes.)
   */
  async validateToken(token: string): Promise<boolean> {
    const res = await this.call("POST", `${this.urls.auth}/tokens/validate`, TokenValidationSchema, { token });
    return res.data.valid;
  }

  /**
   * Whether StackStorm accepts `apikey`, by a cheap GET made with that key alone (not this
   * client's credential). A 401 is `{valid: false}`; any other failure throws. (Not masked
   * here: see `createToken`; the caller remembers the key once it is valid.)
   */
  async probeApiKey(apikey: string): Promise<ProbeResult> {
    const url = `${this.urls.api}${PROBE_PATH}`;
    try {
      const res = await this.http.request("GET", url, { headers: { "St2-Api-Key": apikey } });
      return { valid: true, user: parse(UserInfoSchema, res.body ?? {}, "GET", url, res.status) };
    } catch (err) {
      if (err instanceof St2ApiError && err.status === 401) return { valid: false, reason: err.faultstring };
      throw err;
    }
  }

  /** `GET /user`: who StackStorm takes this client's credential for (`username`, RBAC flags). */
  async whoami(): Promise<UserInfo> {
    return (await this.call("GET", `${this.urls.api}${PROBE_PATH}`, UserInfoSchema)).data;
  }

  // ---- aliases ---------------------------------------------------------------------------

  /**
   * Every action alias, page by page (`limit=100`, `offset` growing) until `X-Total-Count`
   * is reached or a short page arrives: StackStorm caps non-admins at 100 per page.
   */
  async listAliases(): Promise<ActionAlias[]> {
    const all: ActionAlias[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      const url = `${this.urls.api}/actionalias?${query({ limit: PAGE_SIZE, offset: all.length })}`;
      const res = await this.call("GET", url, v.array(ActionAliasSchema));
      all.push(...res.data);
      if (res.data.length === 0) return all;
      // Trust the total when given (a server may cap pages below what we asked for);
      // without it, a short page is the last one.
      const total = Number.parseInt(res.headers.get("X-Total-Count") ?? "", 10);
      if (Number.isFinite(total) ? all.length >= total : res.data.length < PAGE_SIZE) return all;
    }
    log.warn(`stopped paging action aliases after ${MAX_PAGES} pages`, { loaded: all.length });
    return all;
  }

  /** `GET /actionalias/help`: the help strings StackStorm renders for `!st2help`. */
  async aliasHelp(q: AliasHelpQuery = {}): Promise<AliasHelp> {
    const url = `${this.urls.api}/actionalias/help?${query({ ...q })}`;
    return (await this.call("GET", url, AliasHelpSchema)).data;
  }

  /** `POST /aliasexecution` with exactly the allowed keys; undefined ones are left out. */
  async executeAlias(req: AliasExecutionRequest): Promise<AliasExecution> {
    const body = pick(req, EXECUTION_KEYS);
    return (await this.call("POST", `${this.urls.api}/aliasexecution`, AliasExecutionSchema, body)).data;
  }

  /** `POST /aliasexecution/match_and_execute`: StackStorm matches and runs (one result per match). */
  async matchAndExecute(req: MatchAndExecuteRequest): Promise<MatchAndExecute> {
    const body = pick(req, MATCH_KEYS);
    const url = `${this.urls.api}/aliasexecution/match_and_execute`;
    return (await this.call("POST", url, MatchAndExecuteSchema, body)).data;
  }

  // ---- executions and inquiries ------------------------------------------------------------

  /**
   * `POST /executions`: runs `action` with `parameters` as this client's identity; 201 → the new
   * execution. StackStorm answers 400 for an unknown action or parameters its schema refuses,
   * 403 when RBAC forbids `action_execute`.
   */
  async createExecution(req: ExecutionRequest): Promise<Execution> {
    const body = pick(req, EXECUTION_CREATE_KEYS);
    return (await this.call("POST", `${this.urls.api}/executions`, ExecutionSchema, body)).data;
  }

  /** `GET /executions/{id}`: one execution, its result included. */
  async getExecution(id: string): Promise<Execution> {
    return (await this.call("GET", `${this.urls.api}/executions/${encodeURIComponent(id)}`, ExecutionSchema)).data;
  }

  /** Pending inquiries (StackStorm lists only those). */
  async listInquiries(limit = PAGE_SIZE): Promise<Inquiry[]> {
    const url = `${this.urls.api}/inquiries?${query({ limit })}`;
    return (await this.call("GET", url, v.array(InquirySchema))).data;
  }

  /** `GET /inquiries/{id}`: one pending inquiry and its response schema; 404 once answered. */
  async getInquiry(id: string): Promise<Inquiry> {
    return (await this.call("GET", `${this.urls.api}/inquiries/${encodeURIComponent(id)}`, InquirySchema)).data;
  }

  /** `PUT /inquiries/{id}` with `{id, response}`; 400/403 carry StackStorm's reason. */
  async respondInquiry(id: string, response: Record<string, unknown>): Promise<InquiryResponse> {
    const url = `${this.urls.api}/inquiries/${encodeURIComponent(id)}`;
    return (await this.call("PUT", url, InquiryResponseSchema, { id, response })).data;
  }

  /**
   * One authenticated call to `<api_url><path>` (`path` starts with `/`), the answer checked
   * against `schema`: the seam for endpoint modules kept beside this file (executions.ts).
   */
  async api<S extends v.GenericSchema>(method: string, path: string, schema: S, json?: unknown): Promise<v.InferOutput<S>> {
    return (await this.call(method, `${this.urls.api}${path}`, schema, json)).data;
  }

  // ---- health ------------------------------------------------------------------------------

  /** The last verdict on this client's credential (a copy). */
  health(): AuthHealth {
    return { ...this.auth };
  }

  /**
   * While the credential is failing, re-checks it every `intervalMs` with a cheap GET, so a
   * replaced key or a restored account is noticed without a restart. Returns a stopper;
   * calling it again replaces the previous timer.
   */
  startHealthCheck(intervalMs: number): () => void {
    this.stopHealthCheck();
    this.healthTimer = setInterval(() => void this.recheck(), intervalMs);
    this.healthTimer.unref?.();
    return () => this.stopHealthCheck();
  }

  /** Stops the re-check timer; safe to call when none runs. */
  stopHealthCheck(): void {
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = undefined;
  }

  /** One re-check of a failing credential; does nothing while it is not failing. */
  async recheck(): Promise<void> {
    if (this.auth.state !== "failing") return;
    try {
      await this.call("GET", `${this.urls.api}${PROBE_PATH}`, UserInfoSchema);
    } catch (err) {
      log.debug("StackStorm credential still failing", { credential: this.auth.credential, error: describeError(err) });
    }
  }

  // ---- the pipeline ------------------------------------------------------------------------

  /**
   * One authenticated exchange: header from the provider, 401 → `onUnauthorized` → one retry,
   * the answer checked against `schema`. Updates `health()` on every auth verdict.
   */
  private async call<S extends v.GenericSchema>(
    method: string,
    url: string,
    schema: S,
    json?: unknown,
  ): Promise<{ data: v.InferOutput<S>; headers: Headers }> {
    let header = await this.authHeader();
    let res;
    try {
      res = await this.http.request(method, url, { headers: header, json });
    } catch (err) {
      if (!isUnauthorized(err)) throw err;
      if (!(await this.provider.onUnauthorized(header))) throw this.failing(err);
      header = await this.authHeader();
      try {
        res = await this.http.request(method, url, { headers: header, json });
      } catch (again) {
        throw isUnauthorized(again) ? this.failing(again) : again;
      }
    }
    this.markOk();
    return { data: parse(schema, res.body, method, url, res.status), headers: res.headers };
  }

  /** The provider's header; a refused renewal (wrong password) counts as a failing credential. */
  private async authHeader(): Promise<Record<string, string>> {
    try {
      return await this.provider.header();
    } catch (err) {
      throw isUnauthorized(err) ? this.failing(err) : err;
    }
  }

  private failing(err: St2ApiError): St2ApiError {
    const reason = err.faultstring;
    if (this.auth.state !== "failing" || this.auth.reason !== reason) {
      const remedy = this.provider.remedy ? `: ${this.provider.remedy}` : "";
      log.error(
        `StackStorm refused ${this.whose} ${this.auth.credential} (${reason})${remedy}; st2bot keeps running and notices by itself once StackStorm accepts it again`,
      );
      this.auth = { state: "failing", reason, since: new Date(), credential: this.auth.credential };
    }
    return err;
  }

  private markOk(): void {
    if (this.auth.state === "ok") return;
    if (this.auth.state === "failing") log.info(`StackStorm accepts ${this.whose} ${this.auth.credential} again`);
    this.auth = { state: "ok", since: new Date(), credential: this.auth.credential };
  }
}

function isUnauthorized(err: unknown): err is St2ApiError {
  return err instanceof St2ApiError && err.status === 401;
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

/** A query string of the defined values only. */
function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, val] of Object.entries(params)) if (val !== undefined) q.set(k, String(val));
  return q.toString();
}

/** Only the allowed keys, and only those with a value: StackStorm rejects unknown keys. */
function pick<T extends object, K extends keyof T>(obj: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

/** Checks an answer; a surprising shape becomes an St2ApiError naming the first problem. */
function parse<S extends v.GenericSchema>(schema: S, body: unknown, method: string, url: string, status: number): v.InferOutput<S> {
  // Every command's ack waits for this answer: checked by hand, without valibot's copy.
  if ((schema as v.GenericSchema) === AliasExecutionSchema && isAliasExecution(body)) return body as v.InferOutput<S>;
  const result = v.safeParse(schema, body);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const where = issue?.path?.map((p) => String(p.key)).join(".") || "(top level)";
  throw new St2ApiError(status, `unexpected answer from StackStorm at ${where}: ${issue?.message ?? "invalid"}`, method, pathOf(url));
}
