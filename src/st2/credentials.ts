/**
 * Whose StackStorm credential a request carries, and keeping it valid. A provider hands out
 * the auth header, renews what it can when StackStorm says 401, and describes itself without
 * ever revealing the secret. Every credential a provider holds is masked in the log: the bot's
 * own for the life of the process (`registerSecret`), a chat user's as long as it is in use
 * (`rememberSecret`; the caller forgets it when the user's credential is deleted).
 */
import { botCredential } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { ConfigError, describeError } from "../lib/errors.ts";
import { forgetSecret, logger, registerSecret, rememberSecret } from "../lib/log.ts";

const log = logger("st2.credentials");

/** A credential StackStorm accepts on a request. */
export type Credential = { kind: "apikey"; apikey: string } | { kind: "token"; token: string; expiry?: Date };

/** The auth header for one credential: exactly one of `St2-Api-Key` or `X-Auth-Token`. */
export function credentialHeader(c: Credential): Record<string, string> {
  return c.kind === "apikey" ? { "St2-Api-Key": c.apikey } : { "X-Auth-Token": c.token };
}

/**
 * The source of the auth header for one StackStorm identity.
 * - `header()` may renew first (so it may reject with the renewal's error).
 * - `onUnauthorized(rejected?)` is called after StackStorm answered 401 to a request carrying
 *   the `rejected` header: true means a fresh credential is ready and the caller retries once;
 *   false means nothing can be done (the provider has logged why).
 * - `describe()` is safe to log or show: `api key …abcd`, never the secret.
 */
export interface CredentialProvider {
  header(): Promise<Record<string, string>>;
  onUnauthorized(rejected?: Record<string, string>): Promise<boolean>;
  describe(): string;
  /** True when the provider can get a new credential by itself (username/password). */
  readonly renewable: boolean;
  /** What an administrator does when StackStorm keeps refusing this credential (for the log). */
  readonly remedy?: string;
}

/** Shows the last four characters of a long secret, nothing of a short one. */
export function tail(secret: string): string {
  return secret.length >= 12 ? `…${secret.slice(-4)}` : "(hidden)";
}

/**
 * Whose credential a provider holds: the bot's own (masked in the log for good) or a chat
 * user's that StackStorm accepted (masked while remembered, see lib/log).
 */
export type Owner = "bot" | "user";
const mask = (owner: Owner, secret: string) => (owner === "bot" ? registerSecret(secret) : rememberSecret(secret));

/** An API key: never expires, cannot be renewed. */
export class ApiKeyProvider implements CredentialProvider {
  readonly renewable = false;
  constructor(
    private readonly apikey: string,
    private readonly hint = "replace stackstorm.api_auth.apikey (or ST2_API_KEY) with a valid key",
    owner: Owner = "bot",
  ) {
    mask(owner, apikey);
  }
  get remedy(): string {
    return `st2bot cannot renew an API key; ${this.hint}`;
  }
  async header(): Promise<Record<string, string>> {
    return credentialHeader({ kind: "apikey", apikey: this.apikey });
  }
  async onUnauthorized(): Promise<boolean> {
    // Called at every retry: the client logs the change of state once, with `remedy`.
    log.debug(`StackStorm rejected the ${this.describe()}: ${this.remedy}`);
    return false;
  }
  describe(): string {
    return `api key ${tail(this.apikey)}`;
  }
}

/** A token someone else issued: used until StackStorm refuses it, never renewed. */
export class TokenProvider implements CredentialProvider {
  readonly renewable = false;
  constructor(
    private readonly token: string,
    readonly expiry?: Date,
    private readonly hint = "replace stackstorm.api_auth.token (or ST2_AUTH_TOKEN), or configure an API key or a user and password",
    owner: Owner = "bot",
  ) {
    mask(owner, token);
  }
  async header(): Promise<Record<string, string>> {
    return credentialHeader({ kind: "token", token: this.token });
  }
  get remedy(): string {
    const expired = this.expiry && this.expiry.getTime() <= Date.now() ? ` (it expired at ${this.expiry.toISOString()})` : "";
    return `st2bot cannot renew a token${expired}; ${this.hint}`;
  }
  async onUnauthorized(): Promise<boolean> {
    log.debug(`StackStorm rejected the ${this.describe()}: ${this.remedy}`);
    return false;
  }
  describe(): string {
    return `token ${tail(this.token)}`;
  }
}

/** Issues a token for a username and password (`POST <auth_url>/tokens`). */
export type TokenIssuer = (username: string, password: string, ttlSeconds: number) => Promise<{ token: string; expiry: Date }>;

export interface PasswordProviderOptions {
  username: string;
  password: string;
  ttlSeconds: number;
  issue: TokenIssuer;
  /** Injected clock for tests. */
  now?: () => number;
}

/** Renew once 90 % of the lifetime has passed, or when less than this is left. */
const MIN_LEFT_MS = 60_000;

/**
 * A username and password: asks StackStorm for a token, renews it before it expires and on
 * 401. Concurrent callers share one renewal; the password is kept only in memory.
 */
export class PasswordProvider implements CredentialProvider {
  readonly renewable = true;
  readonly remedy = "check stackstorm.api_auth.user.name and .password (or ST2_AUTH_USERNAME and ST2_AUTH_PASSWORD)";
  private current: { token: string; issuedAt: number; expiry: number } | undefined;
  private renewing: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: PasswordProviderOptions) {
    registerSecret(opts.password);
    // The Basic header createToken sends (createToken itself masks nothing).
    registerSecret(Buffer.from(`${opts.username}:${opts.password}`, "utf8").toString("base64"));
    this.now = opts.now ?? Date.now;
  }

  async header(): Promise<Record<string, string>> {
    if (!this.current || this.dueForRenewal(this.current)) await this.renew();
    return credentialHeader({ kind: "token", token: this.current!.token });
  }

  async onUnauthorized(rejected?: Record<string, string>): Promise<boolean> {
    // A request sent with an older token while another caller renewed: the new one is ready.
    const used = rejected?.["X-Auth-Token"];
    if (used !== undefined && this.current && used !== this.current.token) return true;
    try {
      await this.renew();
      return true;
    } catch (err) {
      // Called at every retry: the client logs the change of state once, with `remedy`.
      log.debug(`could not renew the StackStorm token for ${this.describe()}: ${describeError(err)}`);
      return false;
    }
  }

  describe(): string {
    return `user ${this.opts.username}`;
  }

  /** When the current token expires (undefined before the first one). */
  get expiry(): Date | undefined {
    return this.current ? new Date(this.current.expiry) : undefined;
  }

  private dueForRenewal(t: { issuedAt: number; expiry: number }): boolean {
    const now = this.now();
    return now >= t.issuedAt + 0.9 * (t.expiry - t.issuedAt) || t.expiry - now < MIN_LEFT_MS;
  }

  /** One renewal at a time: callers arriving during a renewal wait for the same one. */
  private renew(): Promise<void> {
    this.renewing ??= this.issue().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  private async issue(): Promise<void> {
    const { username, password, ttlSeconds } = this.opts;
    const issuedAt = this.now();
    const { token, expiry } = await this.opts.issue(username, password, ttlSeconds);
    // Kept masked for good, the replaced ones too (still valid until they expire); one a day
    // at the default ttl is no growth worth bounding.
    registerSecret(token);
    this.current = { token, issuedAt, expiry: expiry.getTime() };
    log.info(`obtained a StackStorm token for ${this.describe()}`, { expires: expiry.toISOString() });
  }
}

/** Stands in when no credential is configured: any use fails with what to configure. */
export class MissingCredentialProvider implements CredentialProvider {
  readonly renewable = false;
  async header(): Promise<Record<string, string>> {
    throw new ConfigError(
      "no StackStorm credential is configured: set one of stackstorm.api_auth.apikey, stackstorm.api_auth.token, " +
        "or stackstorm.api_auth.user.name and .password (or ST2_API_KEY, ST2_AUTH_TOKEN, ST2_AUTH_USERNAME/ST2_AUTH_PASSWORD)",
    );
  }
  async onUnauthorized(): Promise<boolean> {
    return false;
  }
  describe(): string {
    return "no credential";
  }
}

/**
 * A provider for a chat user's credential (their session): masked in the log while remembered.
 * Only for credentials StackStorm has accepted (stored after a login that StackStorm checked).
 */
export function providerFor(c: Credential, hint?: string): CredentialProvider {
  return c.kind === "apikey" ? new ApiKeyProvider(c.apikey, hint, "user") : new TokenProvider(c.token, c.expiry, hint, "user");
}

/** The secret string a credential carries (what the log masks). */
export const secretOf = (c: Credential): string => (c.kind === "apikey" ? c.apikey : c.token);

/** Masks a user's credential that StackStorm accepted, until `forgetCredential`. */
export const rememberCredential = (c: Credential): void => rememberSecret(secretOf(c));

/** Stops masking a user's credential once it is deleted (it can no longer reach a log line). */
export const forgetCredential = (c: Credential): void => forgetSecret(secretOf(c));

/**
 * The bot's own provider, in the bridges' precedence: API key, then token, then user and
 * password (tokens issued through `issue` with `user_token_ttl`). With nothing configured,
 * the provider fails with a ConfigError as soon as something needs StackStorm.
 */
export function botProvider(config: Config, issue: TokenIssuer): CredentialProvider {
  const c = botCredential(config);
  switch (c.kind) {
    case "apikey":
      return new ApiKeyProvider(c.apikey);
    case "token":
      return new TokenProvider(c.token);
    case "password":
      return new PasswordProvider({
        username: c.username,
        password: c.password,
        ttlSeconds: config.stackstorm.user_token_ttl,
        issue,
      });
    case "none":
      return new MissingCredentialProvider();
  }
}
