/**
 * The bot's Matrix session: an access token from the config, or an `m.login.password` login
 * (reusing the stored device, so transaction ids stay deduplicated across restarts); who the bot
 * is (`/account/whoami`); and one new login, shared by concurrent callers, when a password
 * bot's token stops working (M_UNKNOWN_TOKEN).
 */
import { ConfigError } from "../../lib/errors.ts";
import { logger, registerSecret } from "../../lib/log.ts";
import { MatrixApi, MatrixError } from "./api.ts";
import { connectFailure } from "./errors.ts";
import type { MatrixConfig } from "./settings.ts";
import type { StateFile, SyncState } from "./state.ts";

const log = logger("chat.matrix");

/** `[matrix]` with the homeserver known to be set. */
export type MatrixSettings = MatrixConfig & { homeserver: string };

export class MatrixSession {
  /** The bot's user id, once whoami answered. */
  userId?: string;
  deviceId?: string;
  /** The stored sync state of this account, loaded at the first set-up. */
  stored?: SyncState;
  private relogging?: Promise<void>;

  constructor(
    readonly api: MatrixApi,
    private readonly cfg: MatrixSettings,
    private readonly state: StateFile,
  ) {
    registerSecret(cfg.access_token);
    registerSecret(cfg.password);
  }

  /** Logs in when needed and asks who the bot is. ConfigError when the server refuses the credentials. */
  async setUp(): Promise<string> {
    try {
      if (!this.api.hasToken) await this.authenticate();
      const me = await this.api.whoami().catch(async (err: unknown) => {
        // A password bot's token may have expired while it was away: log in again once.
        if (!(await this.recover(err))) throw err;
        return this.api.whoami();
      });
      if (this.cfg.user_id && me.user_id !== this.cfg.user_id) {
        throw new ConfigError(`matrix.user_id is ${this.cfg.user_id} but the access token belongs to ${me.user_id}`);
      }
      if (!this.userId) {
        this.stored = this.state.load(this.cfg.homeserver, me.user_id);
        log.info("logged in", { user: me.user_id, device: me.device_id ?? this.deviceId ?? "?", resuming: Boolean(this.stored?.next_batch) });
      }
      this.userId = me.user_id;
      this.deviceId = me.device_id ?? this.deviceId;
      return me.user_id;
    } catch (err) {
      throw connectFailure(err, this.cfg.homeserver);
    }
  }

  /** True when `err` is an expired token that a new password login can fix (and it did). */
  async recover(err: unknown): Promise<boolean> {
    if (!(err instanceof MatrixError) || err.errcode !== "M_UNKNOWN_TOKEN" || !this.cfg.password || !this.cfg.user_id) return false;
    this.relogging ??= this.login().finally(() => (this.relogging = undefined));
    await this.relogging;
    return true;
  }

  private async authenticate(): Promise<void> {
    if (this.cfg.access_token) return this.api.setToken(this.cfg.access_token);
    await this.login();
  }

  private async login(): Promise<void> {
    const { user_id: user, password } = this.cfg;
    if (!user || !password) throw new ConfigError("matrix: set matrix.access_token, or matrix.user_id with a password");
    const device = this.deviceId ?? this.state.load(this.cfg.homeserver, user)?.device_id;
    const reply = await this.api.login(user, password, device);
    registerSecret(reply.access_token);
    this.deviceId = reply.device_id;
  }
}
