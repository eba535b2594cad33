/**
 * A small typed client for the Rocket.Chat REST API (`/api/v1`): authenticated by a personal
 * access token (`X-User-Id` + `X-Auth-Token`) or by `/api/v1/login` with a password, every
 * answer validated with valibot before use. A password bot whose session expired logs in again
 * once and repeats the call.
 */
import * as v from "valibot";
import { ConfigError, describeError, SendError } from "../../lib/errors.ts";
import { logger, registerSecret } from "../../lib/log.ts";
import { RestError, restFailure } from "./errors.ts";
import type { RocketChatSettings } from "./settings.ts";

const log = logger("chat.rocketchat");

export const MeSchema = v.object({ _id: v.string(), username: v.string(), name: v.optional(v.string()) });
/** A Rocket.Chat user as `/me` and `users.info` describe them (the fields st2bot reads). */
export type RcUser = v.InferOutput<typeof MeSchema>;

const LoginSchema = v.object({ data: v.object({ userId: v.string(), authToken: v.string() }) });

/** `[rocketchat]` with the url known to be set. */
export type RestSettings = RocketChatSettings & { url: string };

/** The credentials both the REST calls and the realtime socket's `login` resume use. */
export interface Credentials {
  userId: string;
  token: string;
}

type Query = Record<string, string>;

export class RocketChatRest {
  /** The bot's own user, once `setUp` has run. */
  me?: RcUser;
  private creds?: Credentials;
  private loggingIn?: Promise<void>;
  private readonly base: string;

  constructor(
    private readonly cfg: RestSettings,
    private readonly fetch: typeof globalThis.fetch,
    private readonly timeoutMs: number,
  ) {
    this.base = `${cfg.url.replace(/\/+$/, "")}/api/v1/`;
    registerSecret(cfg.token);
    registerSecret(cfg.password);
    if (cfg.token && cfg.user_id) this.creds = { userId: cfg.user_id, token: cfg.token };
  }

  /**
   * Logs in when a password is configured, then reads who the bot is. Throws ConfigError when
   * the credentials are refused; anything else is the network's (a retryable SendError).
   */
  async setUp(): Promise<RcUser> {
    if (!this.creds) await this.login();
    const me = await this.get("me", {}, MeSchema, "/me").catch((err: unknown) => this.authFailure(err));
    this.me = me;
    log.info("logged in", { user: `@${me.username}` });
    return me;
  }

  /** The realtime socket's URL (`ws(s)://host/websocket`). */
  socketUrl(): string {
    return `${this.cfg.url.replace(/\/+$/, "").replace(/^http/, "ws")}/websocket`;
  }

  /** Current credentials (a password bot's login token after `setUp`). */
  credentials(): Credentials {
    if (!this.creds) throw new SendError("Rocket.Chat: not logged in yet", true);
    return this.creds;
  }

  /** `GET /api/v1/<path>?query`, its answer checked against `schema`. */
  get<S extends v.GenericSchema>(path: string, query: Query, schema: S, what: string): Promise<v.InferOutput<S>> {
    return this.call("GET", `${path}?${new URLSearchParams(query)}`, undefined, schema, what);
  }

  /** `POST /api/v1/<path>` with a JSON body, its answer checked against `schema`. */
  post<S extends v.GenericSchema>(path: string, body: unknown, schema: S, what: string): Promise<v.InferOutput<S>> {
    return this.call("POST", path, JSON.stringify(body), schema, what);
  }

  /** A password bot logs in again (shared by concurrent callers); a token bot cannot. */
  renew(): Promise<void> {
    if (!this.cfg.password) return Promise.resolve();
    this.loggingIn ??= this.login().finally(() => (this.loggingIn = undefined));
    return this.loggingIn;
  }

  private async call<S extends v.GenericSchema>(method: string, path: string, body: string | undefined, schema: S, what: string): Promise<v.InferOutput<S>> {
    let res = await this.send(method, path, body, what);
    if (res.status === 401 && this.cfg.password) {
      await this.renew().catch(() => undefined);
      res = await this.send(method, path, body, what);
    }
    if (!res.ok) throw await restFailure(res, what);
    const parsed = v.safeParse(schema, await res.json().catch(() => undefined));
    if (!parsed.success) throw new SendError(`Rocket.Chat: unexpected answer for ${what}`, true);
    return parsed.output;
  }

  private async send(method: string, path: string, body: string | undefined, what: string): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json", "User-Agent": "st2bot" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (this.creds) {
      headers["X-User-Id"] = this.creds.userId;
      headers["X-Auth-Token"] = this.creds.token;
    }
    try {
      return await this.fetch(this.base + path, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      // Network errors and timeouts: a send may or may not have landed; the caller decides.
      throw new SendError(`Rocket.Chat: ${what} failed: ${describeError(err)}`, true);
    }
  }

  private async login(): Promise<void> {
    const { user, password } = this.cfg;
    if (!user || !password) throw new ConfigError("rocketchat: set rocketchat.user_id and token, or rocketchat.user and password");
    const res = await this.send("POST", "login", JSON.stringify({ user, password }), "login");
    if (res.status === 401 || res.status === 403) {
      throw new ConfigError(`rocketchat: ${this.cfg.url} rejected the bot's login (${res.status}): check rocketchat.user and password`);
    }
    if (!res.ok) throw await restFailure(res, "login");
    const parsed = v.safeParse(LoginSchema, await res.json().catch(() => undefined));
    if (!parsed.success) throw new SendError("Rocket.Chat: unexpected answer to login", true);
    registerSecret(parsed.output.data.authToken);
    this.creds = { userId: parsed.output.data.userId, token: parsed.output.data.authToken };
  }

  /** Wrong credentials are a configuration problem; anything else is the network's. */
  private authFailure(err: unknown): never {
    if (err instanceof RestError && (err.status === 401 || err.status === 403)) {
      throw new ConfigError(`rocketchat: ${this.cfg.url} rejected the bot's credentials (${err.status}): check rocketchat.user_id and token, or user and password`);
    }
    throw err;
  }
}
