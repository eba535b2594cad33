/**
 * Who StackStorm sees for a chat user. Standalone: always the bot. Client-side: the user's
 * own token or API key, linked once through the login page; a user without one is told how
 * to start a session. Passwords are exchanged for a token and then forgotten.
 */
import type { Config } from "../config/schema.ts";
import type { St2Client } from "../st2/client.ts";
import { forgetCredential, providerFor, rememberCredential, secretOf, type Credential } from "../st2/credentials.ts";
import { St2ApiError } from "../st2/http.ts";
import { logger } from "../lib/log.ts";
import type { SecretStore } from "./secrets.ts";
import type { SessionStore } from "./sessions.ts";

const log = logger("auth");

/** What the login page posts: the shared word plus one kind of StackStorm credential. */
export type LoginRequest =
  | { shared_word: string; kind: "password"; username: string; password: string }
  | { shared_word: string; kind: "token"; token: string }
  | { shared_word: string; kind: "apikey"; apikey: string };

/** A login's outcome; `error` is plain language for the page and never echoes a secret. */
export type LoginResult =
  | { ok: true; st2User?: string }
  | { ok: false; status: 400 | 401 | 404 | 502; error: string };

/** Said for unknown, expired and consumed sessions alike. */
export const INVALID_SESSION = "This login link is not valid: it may have expired or been used already. Ask the bot for a new one with st2session_start.";
const REJECTED = "StackStorm did not accept those credentials.";
const BOT_REFUSED =
  "st2bot cannot check tokens right now because StackStorm does not accept st2bot's own credential. " +
  "Please try again later, or log in with a username and password or an API key.";

/**
 * The client to act with for a chat user, or why there is none: they must log in first, or the
 * chat service does not say who they are (`anonymous`: an XMPP room that hides real JIDs).
 */
export type UserClient = { ok: true; client: St2Client } | { ok: false; reason: "no-session" | "anonymous" };

/** Whose credential each chat user's StackStorm calls carry, and the login that links one. */
export class Identities {
  constructor(
    private readonly config: Config,
    private readonly bot: St2Client,
    readonly store: SecretStore,
    readonly sessions: SessionStore,
  ) {}

  /** True under `rbac_auth.clientside`: every user acts as their own StackStorm identity. */
  get clientside(): boolean {
    return Boolean(this.config.stackstorm.rbac_auth.clientside);
  }

  /** The client acting for `chatUser` (undefined: unknown person): the bot's under standalone auth. */
  async clientFor(chatUser: string | undefined): Promise<UserClient> {
    if (!this.clientside) return { ok: true, client: this.bot };
    if (chatUser === undefined) return { ok: false, reason: "anonymous" };
    const credential = await this.store.get(chatUser);
    if (!credential) return { ok: false, reason: "no-session" };
    return { ok: true, client: this.bot.withCredential(providerFor(credential, "log in again with st2session_start")) };
  }

  /**
   * Forgets a user's stored credential (their token expired, they ended the session, an admin
   * cancelled it) and their login sessions; the credential stops being masked in the log.
   */
  async forget(chatUser: string): Promise<boolean> {
    await this.sessions.end(chatUser);
    const old = await this.stored(chatUser);
    const had = await this.store.delete(chatUser);
    if (old) forgetCredential(old);
    return had;
  }

  /** Validates the login against StackStorm and stores only the resulting token or key. */
  async login(sessionId: string, req: LoginRequest): Promise<LoginResult> {
    const redeemed = await this.sessions.redeem(sessionId, req.shared_word);
    if (!redeemed.ok) {
      return redeemed.reason === "invalid"
        ? { ok: false, status: 404, error: INVALID_SESSION }
        : { ok: false, status: 401, error: "The shared word is not the one given to the bot." };
    }
    let credential: Credential;
    let st2User: string | undefined;
    try {
      const checked = await this.check(req);
      if (!checked) return { ok: false, status: 401, error: REJECTED };
      ({ credential, st2User } = checked);
    } catch (err) {
      const status = err instanceof St2ApiError ? err.status : 0;
      // tokens/validate is authenticated by the bot's own credential: a 401 there is about the
      // bot, and must neither blame the user's token nor count towards burning their link.
      if (req.kind === "token" && status === 401) {
        log.warn("login: a user token could not be checked because StackStorm refuses st2bot's own credential");
        return { ok: false, status: 502, error: BOT_REFUSED };
      }
      if (status === 401 || status === 400) return { ok: false, status: 401, error: REJECTED };
      log.warn("login: StackStorm could not be asked", { status });
      return { ok: false, status: 502, error: "StackStorm could not be reached to check those credentials; please try again." };
    }
    // Consume the link before storing, so two logins racing on one link cannot both succeed.
    if (!(await redeemed.finish())) return { ok: false, status: 404, error: INVALID_SESSION };
    // Masked only now that StackStorm accepted it: text that was merely submitted never is.
    rememberCredential(credential);
    const replaced = await this.stored(redeemed.chatUser);
    await this.store.put(redeemed.chatUser, credential);
    if (replaced && secretOf(replaced) !== secretOf(credential)) forgetCredential(replaced);
    log.info("a chat user linked their StackStorm identity", { chatUser: redeemed.chatUser, st2User, kind: req.kind });
    return { ok: true, st2User };
  }

  /** The stored credential, or undefined when there is none or it cannot be read any more. */
  private async stored(chatUser: string): Promise<Credential | undefined> {
    return this.store.get(chatUser).catch(() => undefined);
  }

  private async check(req: LoginRequest): Promise<{ credential: Credential; st2User?: string } | undefined> {
    switch (req.kind) {
      case "password": {
        const t = await this.bot.createToken(req.username, req.password, this.config.stackstorm.user_token_ttl);
        return { credential: { kind: "token", token: t.token, expiry: new Date(t.expiry) }, st2User: t.user };
      }
      case "token":
        return (await this.bot.validateToken(req.token)) ? { credential: { kind: "token", token: req.token } } : undefined;
      case "apikey": {
        const probe = await this.bot.probeApiKey(req.apikey);
        return probe.valid ? { credential: { kind: "apikey", apikey: req.apikey }, st2User: probe.user.username as string | undefined } : undefined;
      }
    }
  }
}
