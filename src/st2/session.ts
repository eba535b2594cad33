/**
 * The core of the StackStorm client: one identity's authenticated exchange. Every call carries
 * the header of one credential provider; a 401 asks the provider to renew and retries once.
 * The session keeps the last auth verdict (`health()`) so `!status` and the log can say in
 * plain words that StackStorm stopped accepting the credential, and re-checks it on a timer
 * when asked. The typed endpoint calls are `St2Client` (client.ts), built on this.
 */
import * as v from "valibot";
import { logger } from "../lib/log.ts";
import { St2ApiError, St2Http, pathOf } from "./http.ts";
import type { CredentialProvider } from "./credentials.ts";
import { AliasExecutionSchema, isAliasExecution, UserInfoSchema } from "./schemas.ts";
import { describeError } from "../lib/errors.ts";

const log = logger("st2.client");

/** The three StackStorm roots, without trailing slashes (`https://st2/api/v1`). */
export interface St2Urls {
  /** `[stackstorm] api_url`: the REST API. */
  api: string;
  /** `[stackstorm] auth_url`: where tokens are issued. */
  auth: string;
  /** `[stackstorm] stream_url`: the event stream (SSE). */
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

/** What a client is made of; `fromConfig` builds the bot's from `[stackstorm]`. */
export interface St2ClientOptions {
  /** The HTTP layer (TLS options, timeouts); shared by every client of one StackStorm. */
  http: St2Http;
  /** The three roots; trailing slashes are removed. */
  urls: St2Urls;
  /** Whose credential every authenticated call carries, and how it is renewed. */
  provider: CredentialProvider;
  /** Whose credential, for the log: "the bot's" for st2bot's own client. */
  whose?: string;
}

/** A cheap authenticated GET that tells who the credential belongs to. */
export const PROBE_PATH = "/user";

/** One identity's authenticated exchange with StackStorm and the health of its credential. */
export class St2Session {
  /** The HTTP layer, shared with clients made by `withCredential`. */
  readonly http: St2Http;
  /** The three roots, without trailing slashes. */
  readonly urls: St2Urls;
  /** The credential this session acts with. */
  readonly provider: CredentialProvider;
  private auth: AuthHealth;
  private healthTimer: ReturnType<typeof setInterval> | undefined;
  private readonly whose: string;

  /** URLs lose their trailing slashes; the health starts `unknown` until the first answer. */
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
   * One authenticated call to `<api_url><path>` (`path` starts with `/`), the answer checked
   * against `schema`: the seam for endpoint modules kept beside client.ts (executions.ts).
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
  protected async call<S extends v.GenericSchema>(
    method: string,
    url: string,
    schema: S,
    json?: unknown,
  ): Promise<{ data: v.InferOutput<S>; headers: Headers }> {
    // The provider asked in place, not through `authHeader`: one async layer less before every request.
    let header: Record<string, string>;
    try {
      header = await this.provider.header();
    } catch (err) {
      throw isUnauthorized(err) ? this.failing(err) : err;
    }
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
    return { data: parseAnswer(schema, res.body, method, url, res.status), headers: res.headers };
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

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}
/** Checks an answer; a surprising shape becomes an St2ApiError naming the first problem. */
export function parseAnswer<S extends v.GenericSchema>(schema: S, body: unknown, method: string, url: string, status: number): v.InferOutput<S> {
  // Every command's ack waits for this answer: checked by hand, without valibot's copy.
  if ((schema as v.GenericSchema) === AliasExecutionSchema && isAliasExecution(body)) return body as v.InferOutput<S>;
  const result = v.safeParse(schema, body);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const where = issue?.path?.map((p) => String(p.key)).join(".") || "(top level)";
  throw new St2ApiError(status, `unexpected answer from StackStorm at ${where}: ${issue?.message ?? "invalid"}`, method, pathOf(url));
}
