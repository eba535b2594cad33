/**
 * StackStorm's REST API as typed calls, grouped by what they touch: tokens and keys, action
 * aliases, executions and inquiries. The authenticated exchange, its 401 renewal and the
 * credential's health are `St2Session` (session.ts); the request bodies and their allowed
 * keys are requests.ts. Both are re-exported here, so importers need only this module.
 */
import * as v from "valibot";
import type { Config } from "../config/schema.ts";
import { logger } from "../lib/log.ts";
import { St2ApiError, St2Http, type FetchFn } from "./http.ts";
import { botProvider, MissingCredentialProvider, type CredentialProvider } from "./credentials.ts";
import {
  EXECUTION_CREATE_KEYS,
  EXECUTION_KEYS,
  MATCH_KEYS,
  pick,
  query,
  type AliasExecutionRequest,
  type AliasHelpQuery,
  type ExecutionRequest,
  type MatchAndExecuteRequest,
} from "./requests.ts";
import { parseAnswer, PROBE_PATH, St2Session } from "./session.ts";
import {
  ActionAliasSchema,
  AliasExecutionSchema,
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

export type { AliasExecutionRequest, AliasHelpQuery, ExecutionRequest, MatchAndExecuteRequest } from "./requests.ts";
export type { AuthHealth, St2ClientOptions, St2Urls } from "./session.ts";

const log = logger("st2.client");

/** The answer of `probeApiKey`. */
export type ProbeResult = { valid: true; user: UserInfo } | { valid: false; reason: string };

/** StackStorm's page cap for non-admin users; also the page size st2bot asks for. */
export const PAGE_SIZE = 100;
/** A bound on paging so a server that never says "last page" cannot loop us forever. */
const MAX_PAGES = 1_000;

/** Typed StackStorm calls as one identity (see `St2Session` for the 401 and health rules). */
export class St2Client extends St2Session {
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
    return parseAnswer(TokenSchema, res.body, "POST", `${this.urls.auth}/tokens`, res.status);
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
      return { valid: true, user: parseAnswer(UserInfoSchema, res.body ?? {}, "GET", url, res.status) };
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
}
