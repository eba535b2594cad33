/**
 * The bot's REST session with Mattermost (Client4): log in with a token or login + password,
 * learn who the bot is, which team `~names` resolve in and the server's post limit; run every
 * call with a deadline, logging a password bot in again once when its session expires.
 */
import { Client4 } from "@mattermost/client";
import * as v from "valibot";
import { ConfigError, describeError, SendError } from "../../lib/errors.ts";
import { logger, registerSecret } from "../../lib/log.ts";
import { type User, UserSchema } from "./directory.ts";
import type { MattermostConfig } from "./settings.ts";
import { postFailure, statusOf } from "./errors.ts";
import { withTimeout } from "../../lib/timeout.ts";

const log = logger("chat.mattermost");

/**
 * What a post's `message` may hold before the server says otherwise. Servers since 5.0 accept
 * 16383 runes and report it as `MaxPostSize` in `/config/client`, which replaces this at start;
 * older servers (and an unreadable config) only take 4000, so 4000 is the one value every
 * server accepts. JavaScript string length counts UTF-16 units, never fewer than runes.
 */
export const FALLBACK_MAX_POST = 4000;

const TeamSchema = v.object({ id: v.string() });

/** `[mattermost]` with the url known to be set. */
export type MattermostSettings = MattermostConfig & { url: string };

export class MattermostSession {
  readonly client = new Client4();
  /** The bot's own user, once `setUp` has run. */
  me?: User;
  /** The team `~channel` names resolve in, when there is one. */
  teamId?: string;
  /** The server's MaxPostSize once known, else the value every server accepts. */
  maxPost = FALLBACK_MAX_POST;
  private loggingIn?: Promise<void>;

  constructor(
    private readonly cfg: MattermostSettings,
    /** Used to create posts, so a 429's headers are visible (Client4 drops them). */
    private readonly fetch: typeof globalThis.fetch,
    private readonly timeoutMs: number,
  ) {
    this.client.setUrl(cfg.url.replace(/\/+$/, ""));
    this.client.setIncludeCookies(false);
    this.client.setUserAgent("st2bot");
    registerSecret(cfg.token);
    registerSecret(cfg.password);
  }

  /**
   * Logs in and reads who the bot is, its team and the post limit. Throws ConfigError when the
   * credentials are refused or the configured team does not exist; other errors are the network's.
   */
  async setUp(): Promise<User> {
    if (this.cfg.token) this.client.setToken(this.cfg.token);
    else await this.login();
    const me = v.parse(UserSchema, await this.call(() => this.client.getMe(), "users/me").catch((e) => this.authFailure(e)));
    this.teamId = await this.findTeam();
    const limit = await this.call(() => this.client.getClientConfig(), "config").then((c) => Number(c.MaxPostSize), () => NaN);
    if (Number.isInteger(limit) && limit > 0) this.maxPost = limit;
    // Set last: a set-up cut short (say, by the team lookup) is redone whole on reconnect.
    this.me = me;
    log.info("logged in", { user: `@${me.username}`, team: this.cfg.team ?? "(none)", maxPostSize: this.maxPost });
    return me;
  }

  /** Before a new socket: is the session still good? (`call` logs a password bot in again.) */
  async check(): Promise<void> {
    await this.call(() => this.client.getMe(), "users/me");
  }

  /** One REST call with a deadline; a password bot whose session expired logs in again once. */
  async call<T>(fn: () => Promise<T>, what: string): Promise<T> {
    try {
      return await timed(fn(), this.timeoutMs, `Mattermost ${what}`);
    } catch (err) {
      if (statusOf(err) !== 401 || !this.cfg.password) throw err;
      await this.relogin();
      return timed(fn(), this.timeoutMs, `Mattermost ${what}`);
    }
  }

  /** Creates a post and returns its id; a password bot whose session expired logs in again and posts once more. */
  async post(post: Record<string, unknown>): Promise<string> {
    const res = await this.write("post", this.client.getPostsRoute(), post);
    const created = (await res.json().catch(() => ({}))) as { id?: unknown };
    return typeof created.id === "string" ? created.id : "";
  }

  /** `PUT /posts/{id}/patch`: changes only the fields given (message, props), as the author may. */
  async patch(id: string, patch: Record<string, unknown>): Promise<void> {
    await this.write("put", `${this.client.getPostRoute(id)}/patch`, patch);
  }

  private async write(method: "post" | "put", url: string, body: Record<string, unknown>): Promise<Response> {
    let res = await this.send(method, url, body);
    if (res.status === 401 && this.cfg.password) {
      await this.relogin().catch(() => undefined);
      res = await this.send(method, url, body);
    }
    if (!res.ok) throw await postFailure(res);
    return res;
  }

  /** The event socket's URL (ws:// or wss://) and the token it authenticates with. */
  socketAddress(): { url: string; token: string } {
    return { url: this.client.getWebSocketUrl().replace(/^http/, "ws"), token: this.client.getToken() };
  }

  private async send(method: "post" | "put", url: string, body: Record<string, unknown>): Promise<Response> {
    const options = this.client.getOptions({ method, body: JSON.stringify(body) });
    try {
      return await this.fetch(url, { ...options, signal: AbortSignal.timeout(this.timeoutMs) } as RequestInit);
    } catch (err) {
      // Network errors and timeouts: the post may or may not exist; the outbox retries.
      throw new SendError(`Mattermost: posting failed: ${describeError(err)}`, true);
    }
  }

  private async login(): Promise<void> {
    if (!this.cfg.login || !this.cfg.password) throw new ConfigError("mattermost: set mattermost.token, or mattermost.login with a password");
    const { login, password } = this.cfg;
    await timed(this.client.login(login, password), this.timeoutMs, "Mattermost login").catch((e) => this.authFailure(e));
    registerSecret(this.client.getToken());
  }

  /** Concurrent callers that all met an expired session share one new login. */
  private relogin(): Promise<void> {
    this.loggingIn ??= this.login().finally(() => (this.loggingIn = undefined));
    return this.loggingIn;
  }

  /** Wrong credentials are a configuration problem; anything else is the network's. */
  private authFailure(err: unknown): never {
    const status = statusOf(err);
    if (status === 401 || status === 403) {
      throw new ConfigError(`mattermost: ${this.cfg.url} rejected the bot's credentials (${status}): check mattermost.token or mattermost.login/password`);
    }
    throw err;
  }

  private async findTeam(): Promise<string | undefined> {
    const name = this.cfg.team;
    if (name) {
      const team = await this.call(() => this.client.getTeamByName(name), "team").catch((e) => {
        if (statusOf(e) === 404 || statusOf(e) === 403) throw new ConfigError(`mattermost.team: the bot is not in a team named "${name}"`);
        throw e;
      });
      return v.parse(TeamSchema, team).id;
    }
    // Without a configured team, a bot in exactly one team uses it; `~name` needs a team.
    const teams = v.parse(v.array(TeamSchema), await this.call(() => this.client.getMyTeams(), "teams"));
    if (teams.length !== 1) log.warn(`mattermost.team is not set and the bot is in ${teams.length} teams: ~channel names will not resolve`);
    return teams.length === 1 ? teams[0]!.id : undefined;
  }
}

function timed<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return withTimeout(promise, ms, () => new Error(`${what} timed out after ${ms} ms`));
}
