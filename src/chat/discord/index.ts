/**
 * The Discord backend on @discordjs/rest (REST v10: messages, DM channels, lookups) and
 * @discordjs/ws (the gateway: events). Not discord.js: its caches and structures cost memory for
 * nothing st2bot uses (figures in the README). Identity follows the issue: `user` = `<@id>`,
 * `source_channel` = `<#id>` (a DM's is the sender, `<@id>`); err-backend-discord's strings are
 * accepted when StackStorm posts back (address.ts). Sends carry a nonce derived from the
 * outbox's stable message id with `enforce_nonce`, so a retried send is never posted twice.
 */
import { createHash } from "node:crypto";
import { REST } from "@discordjs/rest";
import { type GatewayDispatchPayload, type GatewayReadyDispatchData, Routes } from "discord-api-types/v10";
import * as v from "valibot";
import type { Config } from "../../config/schema.ts";
import { logger } from "../../lib/log.ts";
import { requireSection } from "../backend.ts";
import { ReconnectingLink } from "../link.ts";
import { LinkedBackend, type LinkDeps, withConfiguredName } from "../linked.ts";
import type { ChatBackend, Message, MessageHandler, Outgoing, Target } from "../types.ts";
import { resolveDiscordAddress } from "./address.ts";
import { DiscordDirectory } from "./directory.ts";
import { describe, toSendError } from "./errors.ts";
import { channelMention, MessageCreateSchema, toMessage, userMention } from "./events.ts";
import { formatMessage, LIMITS } from "./format.ts";
import { Gateway } from "./gateway.ts";
import { discord, type DiscordSettings } from "./settings.ts";

const log = logger("chat.discord");

/** Discord's per-channel send limit (5 messages per 5 s), honoured by the outbox before any 429. */
export const DISCORD_SEND_RATE = { perSecond: 1, burst: 5 } as const;

/** Injectables for tests; every field has a production default. */
export interface DiscordDeps extends LinkDeps {
  /** Any single REST call (default 10 s; the library retries a timed-out call once, nonce-safe). */
  requestTimeoutMs?: number;
  /** From opening the gateway to READY/RESUMED (default 30 s). */
  readyTimeoutMs?: number;
}

/** Discord's nonce (≤ 25 characters) for a stable outbox id: the same id always gives the same nonce. */
export function nonceFor(id: string): string {
  return createHash("sha256").update(`st2bot:${id}`).digest("base64url").slice(0, 25);
}

class DiscordBackend extends LinkedBackend implements ChatBackend {
  readonly name = "discord";
  readonly maxMessageLength = LIMITS.content;
  readonly sendRate = DISCORD_SEND_RATE;
  readonly overallSendRate = { perSecond: 50, burst: 50 }; // Discord's global limit: 50 requests/s per bot, every channel together
  private readonly rest: REST;
  private readonly directory: DiscordDirectory;
  private readonly gateway: Gateway;
  protected readonly link: ReconnectingLink;
  private me?: { id: string; username: string };

  constructor(s: DiscordSettings & { token: string }, private readonly botName: string, deps: DiscordDeps) {
    super(log, describe);
    this.rest = new REST({
      api: s.api_url,
      version: "10",
      // Every rate limit comes back as an error carrying the wait (errors.ts): the outbox waits,
      // so a send never sits in a hidden queue past the outbox's send timeout.
      rejectOnRateLimit: () => true,
      retries: 1,
      timeout: deps.requestTimeoutMs ?? 10_000,
    }).setToken(s.token);
    this.directory = new DiscordDirectory(this.rest, s.guild);
    this.gateway = new Gateway({
      token: s.token,
      rest: this.rest,
      readyTimeoutMs: deps.readyTimeoutMs ?? 30_000,
      onDispatch: (p) => this.onDispatch(p),
      onReady: (data) => this.onReady(data),
      onInterrupted: (detail) => (detail ? this.link.setState("connecting", detail) : this.link.setState("connected", this.detail())),
      onGaveUp: (reason) => this.link.dropped(reason),
    });
    this.link = new ReconnectingLink(this.gateway, { log, describe, ...(deps.backoff ? { backoff: deps.backoff } : {}) });
  }

  // ---- lifecycle ----

  /** Resolves once READY, or once a recoverable failure went to the reconnect loop; a refused token or intent throws ConfigError. */
  override async start(onMessage: MessageHandler): Promise<void> {
    await super.start(onMessage);
    if (this.link.status().state === "connected") this.link.setState("connected", this.detail());
  }

  override async stop(): Promise<void> {
    await super.stop();
    this.rest.clearHashSweeper();
    this.rest.clearHandlerSweeper();
  }

  private detail(): string {
    return `as @${this.me?.username ?? "?"}`;
  }

  botNames(): string[] {
    const own = this.me ? [userMention(this.me.id), `<@!${this.me.id}>`, this.me.username, `@${this.me.username}`] : [];
    return withConfiguredName(own, this.botName);
  }

  // ---- incoming ----

  private onReady(data: GatewayReadyDispatchData): void {
    this.me = { id: data.user.id, username: data.user.username };
  }

  private onDispatch(p: GatewayDispatchPayload): void {
    this.directory.learn(p.t, p.d);
    if (p.t !== "MESSAGE_CREATE" || !this.me) return;
    const parsed = v.safeParse(MessageCreateSchema, p.d);
    if (!parsed.success) return log.warn("a MESSAGE_CREATE could not be read; ignored", { error: parsed.issues[0].message });
    const m = parsed.output;
    if (m.guild_id === undefined) this.directory.rememberUser(m.author, m.channel_id);
    else this.directory.rememberUser(m.author);
    const parent = m.guild_id === undefined ? undefined : this.directory.parentOf(m.channel_id);
    const roomId = parent ?? m.channel_id;
    this.deliver(toMessage(m, this.me.id, { room: { id: roomId, name: this.directory.roomName(roomId) }, ...(parent ? { thread: m.channel_id } : {}) }));
  }

  replyTarget(msg: Message): Target {
    if (msg.direct || !msg.room) return { kind: "user", id: msg.from.id, name: msg.from.nick };
    return { kind: "room", id: msg.room.id, name: msg.room.name, ...(msg.thread ? { thread: msg.thread } : {}) };
  }

  /** `<#id>` of the room (a thread's parent; the thread travels in source_context), `<@id>` of the sender in a DM. */
  sourceChannel(msg: Message): string {
    if (msg.direct || !msg.room) return userMention(msg.from.id);
    return channelMention(msg.room.id);
  }

  // ---- outgoing ----

  /** Resolves once Discord answered 200 with the message (or, for a repeated nonce, the one it already posted). */
  async send(target: Target, msg: Outgoing): Promise<void> {
    const where = await this.destination(target);
    const body = {
      ...formatMessage(msg),
      ...(msg.id ? { nonce: nonceFor(msg.id), enforce_nonce: true } : {}),
      ...(where.replyTo ? { message_reference: { message_id: where.replyTo, channel_id: where.channel, fail_if_not_exists: false } } : {}),
    };
    try {
      await this.rest.post(Routes.channelMessages(where.channel), { body });
    } catch (err) {
      throw toSendError(`a message to ${target.name ?? target.id}`, err);
    }
  }

  /**
   * The channel a target's message is posted in: a DM channel for a person, the thread for a
   * room target whose `thread` is a thread channel, else the room, replying to the message
   * `thread` names when it is one (`message_reference`, Discord's reply).
   */
  private async destination(target: Target): Promise<{ channel: string; replyTo?: string }> {
    if (target.kind === "user") return { channel: await this.directory.directChannel(target.id) };
    if (!target.thread || target.thread === target.id) return { channel: target.id };
    const thread = await this.directory.channelById(target.thread);
    return thread ? { channel: thread.id } : { channel: target.id, replyTo: target.thread };
  }

  resolve(kind: "user" | "channel", value: string): Promise<Target> {
    return resolveDiscordAddress(this.directory, kind, value);
  }
}

/**
 * Builds the Discord backend from `[discord]` (token; optional api_url, guild). Throws
 * ConfigError when the token is missing; `start` throws ConfigError when Discord refuses the
 * token or the Message Content intent, and otherwise keeps reconnecting until `stop`.
 */
export function createDiscordBackend(config: Config, deps: DiscordDeps = {}): ChatBackend {
  const s = requireSection(discord, config);
  return new DiscordBackend({ ...s, token: s.token!.replace(/^Bot\s+/i, "") }, config.bot.name, deps); // requireSection checked token
}
