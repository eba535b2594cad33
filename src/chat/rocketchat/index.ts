/**
 * The Rocket.Chat backend: a small typed REST client for sending (rest.ts) and the realtime DDP
 * WebSocket for receiving (ddp.ts). No client library: the old SDK installs from a Git URL and
 * the new DDP client needs Yarn-only patches and carries an enterprise licence (see README).
 * Identity: a person is `@username`; a message's `source_channel` is its room id; threads are
 * `tmid` both ways; `extra` becomes attachments (format.ts).
 */
import { createHash } from "node:crypto";
import * as v from "valibot";
import type { Config } from "../../config/schema.ts";
import { logger } from "../../lib/log.ts";
import { requireSection } from "../backend.ts";
import { ReconnectingLink } from "../link.ts";
import { LinkedBackend, type LinkDeps, withConfiguredName } from "../linked.ts";
import type { ChatBackend, Message, MessageRef, Outgoing, Target } from "../types.ts";
import { resolveRocketChatAddress } from "./address.ts";
import { DdpSocket } from "./ddp.ts";
import { RocketChatDirectory } from "./directory.ts";
import { RestError } from "./errors.ts";
import { parseStreamed, type Streamed, toMessage } from "./events.ts";
import { formatMessage } from "./format.ts";
import { MeSchema, RocketChatRest, type RestSettings } from "./rest.ts";
import { rocketchat } from "./settings.ts";

const log = logger("chat.rocketchat");

/** How many message ids are remembered to drop the server's re-sends (edits, reactions, thread counts). */
const SEEN_IDS = 2000;

const SentSchema = v.object({ message: v.optional(v.object({ _id: v.string() })) });
const UpdatedSchema = v.object({ message: v.optional(v.object({ _id: v.string() })) });
const FoundSchema = v.object({ message: v.object({ _id: v.string(), u: v.object({ _id: v.string() }) }) });

/** Injectables for tests; every field has a production default. */
export interface RocketChatDeps extends LinkDeps {
  fetch?: typeof fetch;
  newWebSocket?: (url: string) => WebSocket;
  /** Any single REST call (default 15 s). */
  requestTimeoutMs?: number;
  /** From opening the realtime socket to the subscription's `ready` (default 15 s). */
  openTimeoutMs?: number;
  /** Our DDP ping's period; an unanswered ping replaces the socket (default 30 s). */
  pingIntervalMs?: number;
  /** How long name and id lookups are cached (default 10 min). */
  cacheTtlMs?: number;
}

/**
 * The message `_id` for the outbox's per-part `id`: the same on every retry (so Rocket.Chat
 * stores it once), 17 characters of Meteor's id alphabet like the server's own, and namespaced
 * by the bot's user id (ids are global to the server; two bots must never collide).
 */
export function messageIdFor(botUserId: string, id: string): string {
  const ALPHABET = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";
  const digest = createHash("sha256").update(`st2bot:${botUserId}:${id}`).digest();
  return Array.from(digest.subarray(0, 17), (b) => ALPHABET[b % ALPHABET.length]).join("");
}

class RocketChatBackend extends LinkedBackend implements ChatBackend {
  readonly name = "rocketchat";
  // No sendRate: the REST API has no per-message limit to honour. Its rate limiter (per
  // endpoint and client, bypassed by the `bot` role) answers 429 with X-RateLimit-Reset,
  // which the outbox waits out.
  readonly maxMessageLength: number;
  private readonly rest: RocketChatRest;
  private readonly directory: RocketChatDirectory;
  private readonly socket: DdpSocket;
  protected readonly link: ReconnectingLink;
  private readonly seen = new Set<string>();
  /** A direct message → its room id (its `source_channel`). */
  private readonly directRooms = new WeakMap<Message, string>();

  constructor(cfg: RestSettings, private readonly botName: string, deps: RocketChatDeps) {
    super(log);
    this.maxMessageLength = cfg.max_message_length;
    this.rest = new RocketChatRest(cfg, deps.fetch ?? fetch, deps.requestTimeoutMs ?? 15_000);
    this.directory = new RocketChatDirectory(this.rest, deps.cacheTtlMs ?? 600_000);
    this.socket = new DdpSocket({
      ...(deps.newWebSocket ? { newWebSocket: deps.newWebSocket } : {}),
      pingIntervalMs: deps.pingIntervalMs ?? 30_000,
      openTimeoutMs: deps.openTimeoutMs ?? 15_000,
      onChanged: (fields) => this.onChanged(fields),
      onDrop: (reason) => this.link.dropped(reason),
    });
    const driver = { connect: () => this.connect(), close: async () => this.socket.close() };
    this.link = new ReconnectingLink(driver, { log, ...(deps.backoff ? { backoff: deps.backoff } : {}) });
  }

  // ---- lifecycle (start/stop/status: LinkedBackend) ----

  botNames(): string[] {
    const me = this.rest.me;
    return withConfiguredName(me ? [me.username, `@${me.username}`] : [], this.botName);
  }

  /** One attempt: REST session (set up once, checked after), then a fresh DDP session up to `ready`. */
  private async connect(): Promise<string> {
    if (this.rest.me) await this.rest.get("me", {}, MeSchema, "/me");
    else this.directory.rememberUser(await this.rest.setUp());
    await this.socket.open(this.rest.socketUrl(), this.rest.credentials().token);
    return `as @${this.rest.me?.username ?? "?"}`;
  }

  // ---- incoming ----

  private onChanged(fields: unknown): void {
    const me = this.rest.me;
    const streamed = me && parseStreamed(fields);
    if (!me || !streamed || !this.isSpeech(streamed, me._id)) return;
    const msg = toMessage(streamed, me);
    if (msg.direct) {
      this.directory.rememberDirect(streamed.message.u.username, streamed.message.rid);
      this.directRooms.set(msg, streamed.message.rid);
    }
    this.deliver(msg);
  }

  /** A new message someone wrote in a room the bot is in: not the bot's, not a system message, not a re-send. */
  private isSpeech(s: Streamed, myId: string): boolean {
    const m = s.message;
    if (m.u._id === myId || m.t || m.editedAt !== undefined || s.roomType === "l") return false;
    // The server streams public channels the bot only may read: answering there would be intrusive.
    if (!s.participant) return false;
    if (this.seen.has(m._id)) return false;
    this.seen.add(m._id);
    if (this.seen.size > SEEN_IDS) this.seen.delete(this.seen.values().next().value!);
    return true;
  }

  replyTarget(msg: Message): Target {
    if (msg.direct || !msg.room) return { kind: "user", id: msg.from.id, name: `@${msg.from.nick}` };
    return { kind: "room", id: msg.room.id, name: msg.room.name, ...(msg.thread ? { thread: msg.thread } : {}) };
  }

  /** The room id, for a direct message too (its direct room). */
  sourceChannel(msg: Message): string {
    return msg.room?.id ?? this.directRooms.get(msg) ?? `@${msg.from.nick}`;
  }

  // ---- outgoing ----

  async send(target: Target, msg: Outgoing): Promise<void> {
    if (!msg.id) {
      await this.post(target, msg);
      return;
    }
    const { rid, body, extras } = await this.outgoing(target, msg);
    const me = this.rest.me;
    if (!me) throw new RestError("Rocket.Chat: not logged in yet", true, 0, undefined);
    const _id = messageIdFor(me._id, msg.id);
    try {
      // A 200 without `message` is how older servers answer an `_id` they already hold.
      await this.rest.post("chat.sendMessage", { message: { _id, rid, msg: body.msg, ...extras } }, SentSchema, "chat.sendMessage");
    } catch (err) {
      // Newer servers fail a repeated `_id` with a 400; an earlier attempt may have landed.
      if (err instanceof RestError && err.status === 400 && (await this.alreadyPosted(_id, me._id))) return;
      throw err;
    }
  }

  async post(target: Target, msg: Outgoing): Promise<MessageRef> {
    const { rid, body, extras } = await this.outgoing(target, msg);
    const sent = await this.rest.post("chat.postMessage", { roomId: rid, text: body.msg, ...extras }, SentSchema, "chat.postMessage");
    if (!sent.message) throw new RestError("Rocket.Chat: chat.postMessage answered without the message it stored", false, 200, undefined);
    return { room: rid, id: sent.message._id };
  }

  /** `chat.update`: the text replaced (the thread and room stay the original's). */
  async edit(ref: MessageRef, msg: Outgoing): Promise<void> {
    await this.rest.post("chat.update", { roomId: ref.room, msgId: ref.id, text: formatMessage(msg).msg }, UpdatedSchema, "chat.update");
  }

  /** The room, the formatted body and the thread/attachment fields of a message to `target`. */
  private async outgoing(target: Target, msg: Outgoing) {
    const rid = target.kind === "room" ? target.id : await this.directory.directRoom(await this.usernameOf(target));
    const body = formatMessage(msg);
    const tmid = target.kind === "room" ? target.thread : undefined;
    const extras = { ...(tmid ? { tmid } : {}), ...(body.attachments ? { attachments: body.attachments } : {}) };
    return { rid, body, extras };
  }

  /** True when the message `_id` exists and is the bot's: a retry whose first attempt got through. */
  private async alreadyPosted(_id: string, myId: string): Promise<boolean> {
    try {
      const found = await this.rest.get("chat.getMessage", { msgId: _id }, FoundSchema, `message ${_id}`);
      if (found.message.u._id === myId) log.info("a retried send had already been posted", { id: _id });
      return found.message.u._id === myId;
    } catch (err) {
      if (err instanceof RestError && err.status === 400) return false;
      throw err;
    }
  }

  private async usernameOf(target: Target & { kind: "user" }): Promise<string> {
    if (target.name?.startsWith("@")) return target.name.slice(1);
    const u = await this.directory.userById(target.id);
    if (!u) throw new RestError(`Rocket.Chat: no user ${target.id}`, false, 400, undefined);
    return u.username;
  }

  resolve(kind: "user" | "channel", value: string): Promise<Target> {
    return resolveRocketChatAddress(this.directory, kind, value);
  }
}

/**
 * Builds the Rocket.Chat backend from `[rocketchat]`. Throws ConfigError when the url or
 * credentials are missing; `start` throws ConfigError when the server refuses them, and
 * otherwise keeps reconnecting with the shared Backoff until `stop`.
 */
export function createRocketChatBackend(config: Config, deps: RocketChatDeps = {}): ChatBackend {
  const rc = requireSection(rocketchat, config);
  return new RocketChatBackend({ ...rc, url: rc.url! }, config.bot.name, deps); // requireSection checked url
}
