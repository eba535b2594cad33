/**
 * The gateway connection (@discordjs/ws) as a driver of the shared ReconnectingLink. One attempt
 * is a fresh WebSocketManager up to READY (or RESUMED): `GET /gateway/bot`, HELLO, IDENTIFY or
 * RESUME. After that the library keeps the session itself — heartbeats, zombie detection,
 * RESUME after a dropped socket, a new IDENTIFY after INVALID_SESSION — because only it holds the
 * sequence number a RESUME needs; the link's loop takes over only when the library gives up
 * (close codes Discord documents as not to be reconnected with: a refused token, disallowed
 * intents). The session store is this object's own (the library's default one is shared by the
 * whole process), so a later attempt, even on a new manager, resumes where the last one stopped.
 */
import type { REST } from "@discordjs/rest";
import { type SessionInfo, WebSocketManager, WebSocketShardEvents } from "@discordjs/ws";
import { GatewayCloseCodes, type GatewayDispatchPayload, GatewayIntentBits, type GatewayReadyDispatchData } from "discord-api-types/v10";
import { ConfigError } from "../../lib/errors.ts";
import { withTimeout } from "../../lib/timeout.ts";
import type { LinkDriver } from "../link.ts";
import { toSendError } from "./errors.ts";

/**
 * What the bot asks for: servers and their channels (names for `#ops`), messages in servers and
 * in DMs, and their text. Message Content is privileged: it must be switched on in the developer
 * portal (Bot → Privileged Gateway Intents), or Discord closes the gateway with 4014.
 */
export const INTENTS =
  GatewayIntentBits.Guilds | GatewayIntentBits.GuildMessages | GatewayIntentBits.DirectMessages | GatewayIntentBits.MessageContent;

/** Close codes after which Discord says not to reconnect as before, each as the person fixes it. */
const FATAL: Record<number, string> = {
  [GatewayCloseCodes.AuthenticationFailed]: "Discord refused the bot token (gateway close 4004); check discord.token",
  [GatewayCloseCodes.DisallowedIntents]:
    "Discord refused the Message Content intent (gateway close 4014): enable it in the developer portal, your app → Bot → Privileged Gateway Intents → Message Content Intent",
  [GatewayCloseCodes.InvalidIntents]: "Discord refused the intents st2bot asked for (gateway close 4013)",
  [GatewayCloseCodes.InvalidAPIVersion]: "Discord refused the gateway API version (close 4012)",
  [GatewayCloseCodes.InvalidShard]: "Discord refused the shard (close 4010)",
  [GatewayCloseCodes.ShardingRequired]: "Discord requires sharding for this bot (close 4011)",
};

export interface GatewayOptions {
  token: string;
  rest: REST;
  /** From opening to READY/RESUMED; a silent gateway is replaced. */
  readyTimeoutMs: number;
  /** Every dispatch (MESSAGE_CREATE, GUILD_CREATE, …), in the order Discord sent them. */
  onDispatch(payload: GatewayDispatchPayload): void;
  /** READY's data: who the bot is. */
  onReady(data: GatewayReadyDispatchData): void;
  /** The library is resuming after a close (`detail`), or is back (`undefined`). */
  onInterrupted(detail: string | undefined): void;
  /** The library gave up on a connection that was up: the link must take over. */
  onGaveUp(reason: string): void;
}

/** The gateway; `connect`/`close` are the link's, everything else is the library's. */
export class Gateway implements LinkDriver {
  private manager?: WebSocketManager;
  private retire = () => {};
  private readonly sessions = new Map<number, SessionInfo>();

  constructor(private readonly opts: GatewayOptions) {}

  /** How many gateway sessions were resumed rather than identified anew (status detail, tests). */
  resumes = 0;

  async connect(): Promise<string> {
    await this.close();
    let retired = false;
    this.retire = () => (retired = true);
    const manager = new WebSocketManager({
      token: this.opts.token,
      intents: INTENTS,
      rest: this.opts.rest,
      readyTimeout: this.opts.readyTimeoutMs,
      helloTimeout: this.opts.readyTimeoutMs,
      handshakeTimeout: this.opts.readyTimeoutMs,
      // A retired manager's shard may still be in the library's 500 ms pause before reconnecting
      // (destroy cannot reach it then); its reconnect asks for the session first and never gets
      // an answer, so it opens no socket after close (a pending promise holds no timer).
      retrieveSessionInfo: (shard) => (retired ? new Promise<never>(() => undefined) : (this.sessions.get(shard) ?? null)),
      updateSessionInfo: (shard, info) => {
        if (info) this.sessions.set(shard, info);
        else this.sessions.delete(shard);
      },
    });
    this.manager = manager;
    let up = false;
    let refused: ((err: Error) => void) | undefined;
    const fatal = new Promise<never>((_, reject) => (refused = reject));
    fatal.catch(() => undefined);
    manager.on(WebSocketShardEvents.Dispatch, (payload) => this.opts.onDispatch(payload));
    manager.on(WebSocketShardEvents.Ready, (data) => {
      this.opts.onReady(data);
      if (up) this.opts.onInterrupted(undefined);
    });
    manager.on(WebSocketShardEvents.Resumed, () => {
      this.resumes++;
      if (up) this.opts.onInterrupted(undefined);
    });
    manager.on(WebSocketShardEvents.Closed, (code) => {
      if (this.manager !== manager) return; // our own close
      const reason = FATAL[code];
      if (!up) {
        if (reason) refused?.(new ConfigError(reason));
      } else if (reason) {
        this.opts.onGaveUp(reason);
      } else {
        this.opts.onInterrupted(`gateway closed (${code}); resuming`);
      }
    });
    manager.on(WebSocketShardEvents.Error, () => undefined); // reported through Closed; an unheard "error" would throw
    try {
      await withTimeout(Promise.race([manager.connect(), fatal]), this.opts.readyTimeoutMs, () => new Error(`no READY within ${this.opts.readyTimeoutMs} ms`));
      up = true;
      return "";
    } catch (err) {
      await this.close();
      if (err instanceof ConfigError) throw err;
      const failure = toSendError("GET /gateway/bot", err);
      if ("status" in failure && failure.status === 401) throw new ConfigError("Discord refused the bot token (401); check discord.token");
      throw failure;
    }
  }

  async close(): Promise<void> {
    const manager = this.manager;
    this.manager = undefined;
    this.retire();
    if (!manager) return;
    manager.removeAllListeners();
    // No `recover`, so the shards stop for good. Close code 4000 (not 1000) keeps the session
    // resumable on Discord's side, and the library's destroy forgets it on ours: put it back, so
    // the next attempt RESUMEs and replays what was missed (an unknown session costs an IDENTIFY).
    const kept = new Map(this.sessions);
    await withTimeout(Promise.resolve(manager.destroy({ code: 4000, reason: "st2bot reconnecting or stopping" })), 3000, () => new Error("close timed out")).catch(() => undefined);
    for (const [shard, info] of kept) this.sessions.set(shard, info);
  }
}
