/**
 * The Mattermost backend, on the official `@mattermost/client`: Client4 for REST v4 (session.ts)
 * and its WebSocketClient for events (socket.ts). Strings follow Errbot's Mattermost backend and
 * err-stackstorm, so existing ACLs, rules and `chatops.post_message` calls keep working: a room's
 * `source_channel` is `~channel-name`, a direct message's is the sender, `@username`.
 * Identities are in events.ts, addresses in address.ts, rich messages in format.ts.
 */
import type { Config } from "../../config/schema.ts";
import { logger } from "../../lib/log.ts";
import { describeError } from "../../lib/errors.ts";
import { ReconnectingLink } from "../link.ts";
import { LinkedBackend, type LinkDeps, withConfiguredName } from "../linked.ts";
import type { ChatBackend, Message, MessageRef, Outgoing, Target } from "../types.ts";
import { requireSection } from "../backend.ts";
import { resolveMattermostAddress } from "./address.ts";
import { MattermostDirectory } from "./directory.ts";
import { identityOf, parsePosted, roomName, socketEvent, toMessage } from "./events.ts";
import { answeredUpdate, readClick, withActions } from "./actions.ts";
import { escapeMentions, formatPost } from "./format.ts";
import { MattermostSession, type MattermostSettings } from "./session.ts";
import { mattermost } from "./settings.ts";
import { EventSocket } from "./socket.ts";

const log = logger("chat.mattermost");

/** Mattermost's RateLimitSettings defaults (PerSec 10, MaxBurst 100), applied per user when enabled. */
export const MATTERMOST_SEND_RATE = { perSecond: 10, burst: 100 } as const;

/** Injectables for tests; every field has a production default. */
export interface MattermostDeps extends LinkDeps {
  /** Used to create posts, so a 429's headers are visible (Client4 drops them). */
  fetch?: typeof fetch;
  /** WebSocket factory given to WebSocketClient (default: the global WebSocket). */
  newWebSocket?: (url: string) => WebSocket;
  /** Any single REST call (default 15 s). */
  requestTimeoutMs?: number;
  /** From socket open to the server's `hello` (default 15 s); a silent socket is replaced. */
  helloTimeoutMs?: number;
  /** WebSocketClient's liveness ping (default 30 s). */
  pingIntervalMs?: number;
  /** How long name and id lookups are cached (default 10 min). */
  cacheTtlMs?: number;
}

class MattermostBackend extends LinkedBackend implements ChatBackend {
  readonly name = "mattermost";
  readonly sendRate = MATTERMOST_SEND_RATE;
  private readonly session: MattermostSession;
  private readonly directory: MattermostDirectory;
  private readonly socket: EventSocket;
  protected readonly link: ReconnectingLink;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly actionsUrl?: string;

  constructor(cfg: MattermostSettings, private readonly botName: string, deps: MattermostDeps) {
    super(log);
    this.session = new MattermostSession(cfg, deps.fetch ?? fetch, deps.requestTimeoutMs ?? 15_000);
    if (cfg.actions_url) this.actionsUrl = cfg.actions_url;
    this.directory = new MattermostDirectory(this.session, deps.cacheTtlMs ?? 600_000);
    this.socket = new EventSocket({
      ...(deps.newWebSocket ? { newWebSocket: deps.newWebSocket } : {}),
      pingIntervalMs: deps.pingIntervalMs ?? 30_000,
      helloTimeoutMs: deps.helloTimeoutMs ?? 15_000,
      onEvent: (raw) => this.onEvent(raw),
      onDrop: () => this.link.dropped("event socket closed"),
    });
    const driver = { connect: () => this.connect(), close: async () => this.socket.stop() };
    this.link = new ReconnectingLink(driver, { log, ...(deps.backoff ? { backoff: deps.backoff } : {}) });
  }

  /** The server's MaxPostSize once known, else the value every server accepts. */
  get maxMessageLength(): number {
    return this.session.maxPost;
  }

  // ---- lifecycle (start/stop/status: LinkedBackend) ----

  escape(text: string): string {
    return escapeMentions(text);
  }

  botNames(): string[] {
    const me = this.session.me;
    return withConfiguredName(me ? [me.username, `@${me.username}`] : [], this.botName);
  }

  /** One attempt: the REST session (set up once, checked after), then the socket up to `hello`. */
  private async connect(): Promise<string> {
    if (this.session.me) await this.session.check();
    else this.directory.rememberUser(await this.session.setUp());
    const { url, token } = this.session.socketAddress();
    await this.socket.open(url, token);
    return `as @${this.session.me?.username ?? "?"}`;
  }

  // ---- incoming ----

  private onEvent(raw: unknown): void {
    const frame = socketEvent(raw);
    if (frame?.event === "hello") {
      this.socket.greeted();
    } else if (frame?.event === "posted") {
      // Turned into messages one at a time so they reach the handler in the order Mattermost
      // sent them (sender lookups are async); handling itself runs concurrently, so one slow
      // command does not hold up everyone else's.
      const { data } = frame;
      this.queue = this.queue
        .then(() => this.onPosted(data))
        .then((msg) => this.deliver(msg))
        .catch((err) => log.error("a posted event failed", { error: describeError(err) }));
    }
  }

  /** The message a `posted` event carries for the bot, or undefined when it is not one. */
  private async onPosted(data: Record<string, unknown>): Promise<Message | undefined> {
    const me = this.session.me;
    const posted = me && parsePosted(data);
    if (!me || !posted) return undefined;
    const { post: p, event: e } = posted;
    // The bot's own posts come back as events too; system posts (joins, header changes) are not speech.
    if (p.user_id === me.id || p.type !== "") return undefined;
    const teamId = this.session.teamId;
    if (e.team_id && teamId && e.team_id !== teamId) return undefined; // another team's channel
    const sender = await this.directory.userById(p.user_id).catch((err: unknown) => {
      // Never guess an identity from `sender_name` (a display name, or a webhook's override):
      // ACLs match on it, so a wrong guess could slip past a deny rule.
      log.error("cannot read the sender's profile; message dropped", { userId: p.user_id, error: describeError(err) });
      return undefined;
    });
    if (!sender) return undefined;
    if (e.channel_type === "D") this.directory.rememberDirect(sender.id, p.channel_id);
    return toMessage(posted, identityOf(sender), me);
  }

  replyTarget(msg: Message): Target {
    if (msg.direct || !msg.room) return { kind: "user", id: msg.from.id, name: `@${msg.from.nick}` };
    return { kind: "room", id: msg.room.id, name: msg.room.name, ...(msg.thread ? { thread: msg.thread } : {}) };
  }

  /** err-stackstorm: `str(msg.to)` in a room (`~name`), `str(msg.frm)` in a DM (`@username`). */
  sourceChannel(msg: Message): string {
    if (msg.direct || !msg.room) return `@${msg.from.nick}`;
    return msg.room.name.startsWith("~") ? msg.room.name : msg.room.id;
  }

  // ---- outgoing ----

  async send(target: Target, msg: Outgoing): Promise<void> {
    await this.post(target, msg);
  }

  async post(target: Target, msg: Outgoing): Promise<MessageRef> {
    const channelId = target.kind === "room" ? target.id : await this.directory.directChannel(target.id);
    const { message, props } = withActions(formatPost(msg), msg.actions, this.actionsUrl);
    const rootId = target.kind === "room" ? (target.thread ?? "") : "";
    const id = await this.session.post({ channel_id: channelId, message, root_id: rootId, ...(props ? { props } : {}) });
    return { room: channelId, id };
  }

  /** A post patch: the message and its attachments replaced (an empty list removes old ones). */
  async edit(ref: MessageRef, msg: Outgoing): Promise<void> {
    const { message, props } = formatPost(msg);
    await this.session.patch(ref.id, { message, props: props ?? { attachments: [] } });
  }

  resolve(kind: "user" | "channel", value: string): Promise<Target> {
    return resolveMattermostAddress(this.directory, kind, value);
  }

  // ---- clicks (actions.ts) ----

  /**
   * A click Mattermost posted to `POST /chatops/action`: only on one of the bot's own posts, by
   * a person the server names; answered with the post `update` and `ephemeral_text` the
   * handler produced while it ran.
   */
  async handleAction(body: unknown): Promise<Record<string, unknown> | undefined> {
    const click = this.actionsUrl ? readClick(body) : undefined;
    const me = this.session.me;
    const handler = this.handler;
    if (!click || !me || !handler) return undefined;
    const post = await this.session.call(() => this.session.client.getPost(click.post), "posts").catch(() => undefined);
    if (!post || post.user_id !== me.id || post.channel_id !== click.channel) return undefined;
    const [sender, channel] = await Promise.all([
      this.directory.userById(click.user).catch(() => undefined),
      this.directory.channelById(click.channel).catch(() => undefined),
    ]);
    if (!sender || !channel) return { ephemeral_text: "st2bot could not look up you or this channel on Mattermost; please try again." };
    const answer: Record<string, unknown> = {};
    const notes: string[] = [];
    const direct = channel.type === "D";
    const msg: Message = {
      text: "",
      from: identityOf(sender),
      direct,
      ...(direct ? {} : { room: { id: channel.id, name: roomName(channel.type, channel.name, channel.display_name, channel.id) } }),
      ...(post.root_id ? { thread: post.root_id } : {}),
      action: {
        token: click.token,
        update: async (note) => void (answer.update = answeredUpdate(post as { message: string; props?: Record<string, unknown> }, note)),
        notify: async (text) => void notes.push(escapeMentions(text)),
      },
    };
    await handler(msg);
    if (notes.length) answer.ephemeral_text = notes.join("\n");
    return answer;
  }
}

/**
 * Builds the Mattermost backend from `[mattermost]` (url; token, or login + password;
 * team). Throws ConfigError when the url or credentials are missing; `start` throws ConfigError
 * when Mattermost rejects the credentials or the team does not exist, and otherwise keeps
 * reconnecting with the shared Backoff until `stop`.
 */
export function createMattermostBackend(config: Config, deps: MattermostDeps = {}): ChatBackend {
  const mm = requireSection(mattermost, config);
  return new MattermostBackend({ ...mm, url: mm.url! }, config.bot.name, deps); // requireSection checked url
}
