/**
 * The Slack backend: events arrive over Socket Mode (@slack/socket-mode, app-level `xapp-`
 * token, so no public URL is needed) and messages go out through the Web API (@slack/web-api,
 * bot `xoxb-` token). Strings follow Errbot's slackv3 backend and err-stackstorm's
 * SlackChatV3Adapter, so existing ACLs, rules and `chatops.post_message` calls keep working:
 * `source_channel` is `<#C123|general>` in a room (`str(SlackRoom)`) and `<@U123>` in a DM
 * (`str(SlackPerson)`). Identities are in events.ts, addresses in address.ts, rich messages in
 * format.ts.
 */
import * as v from "valibot";
import type { Config } from "../../config/schema.ts";
import { logger, registerSecret } from "../../lib/log.ts";
import type { ActionClick, ChatBackend, Message, MessageRef, Outgoing, Target } from "../types.ts";
import { answeredBlocks, readClick, type SlackClick, withActions } from "./actions.ts";
import { requireSection } from "../backend.ts";
import { type Call, createSlackClients } from "./api.ts";
import { resolveSlackAddress } from "./address.ts";
import { ReconnectingLink } from "../link.ts";
import { LinkedBackend, type LinkDeps } from "../linked.ts";
import { socketModeDriver } from "./connection.ts";
import { SlackDirectory } from "./directory.ts";
import { isDirect, isSpeech, messageEvent, normaliseIncomingText, type SlackMessageEvent, type SlackSelf, slackIdentity, stripMention } from "./events.ts";
import { buildPostArgs, escapeText } from "./format.ts";
import { slack } from "./settings.ts";

const log = logger("chat.slack");

/**
 * Slack truncates `text` beyond 40,000 characters but asks for at most 4,000 "for best results":
 * longer messages are collapsed behind "Show more" and attachment text is clipped sooner. Splitting
 * at 4,000 keeps every part fully visible; the 40,000 hard limit would hide most of a long result.
 */
export const SLACK_MAX_MESSAGE_LENGTH = 4000;
/** Slack's published posting limit: about one message per second per channel, short bursts allowed. */
export const SLACK_SEND_RATE = { perSecond: 1, burst: 3 } as const;

/** Injectables for tests; every field has a production default. */
export interface SlackDeps extends LinkDeps {
  /** Any single Web API call (default 15 s). */
  requestTimeoutMs?: number;
  /** From `apps.connections.open` to Slack's `hello` (default 15 s); a silent link is replaced. */
  connectTimeoutMs?: number;
  /** How long the user and channel directory is trusted before a full reload (default 10 min). */
  cacheTtlMs?: number;
  /** A name that is not in the directory reloads it, but at most this often (default 30 s). */
  missRefreshMs?: number;
}

const AuthTestSchema = v.object({ user_id: v.string(), user: v.string(), bot_id: v.optional(v.string()) });
const ConversationOpenSchema = v.object({ channel: v.object({ id: v.string() }) });
const AnySchema = v.unknown();
/** What chat.postMessage answers: where the message landed and its `ts`, its id for chat.update. */
const PostedSchema = v.object({ channel: v.string(), ts: v.string() });

/** What Socket Mode hands the `slack_event` listener. */
interface SocketModeEnvelope {
  ack: () => Promise<void>;
  type: string;
  body: unknown;
  envelope_id?: string;
}

class SlackBackend extends LinkedBackend implements ChatBackend {
  readonly name = "slack";
  readonly maxMessageLength = SLACK_MAX_MESSAGE_LENGTH;
  readonly sendRate = SLACK_SEND_RATE;

  private readonly call: Call;
  protected readonly link: ReconnectingLink;
  private readonly directory: SlackDirectory;
  private self?: SlackSelf;
  /** user id → DM channel id, learned from incoming DMs and conversations.open. */
  private readonly dms = new Map<string, string>();
  /** `channel:ts` of recent messages: `message` and `app_mention` arrive for the same post. */
  private readonly seen = new Set<string>();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly config: Config, deps: SlackDeps) {
    super(log);
    const { bot_token, app_token, api_url: apiUrl } = requireSection(slack, config);
    // requireSection checked both tokens.
    const [botToken, appToken] = [bot_token!, app_token!];
    registerSecret(botToken);
    registerSecret(appToken);
    const { socket, call } = createSlackClients({ botToken, appToken, apiUrl }, deps.requestTimeoutMs ?? 15_000);
    this.call = call;
    this.directory = new SlackDirectory(call, deps.cacheTtlMs ?? 600_000, deps.missRefreshMs ?? 30_000);
    const driver = socketModeDriver(socket, { connectTimeoutMs: deps.connectTimeoutMs ?? 15_000, beforeConnect: () => this.learnSelf() });
    this.link = new ReconnectingLink(driver, { log, ...(deps.backoff ? { backoff: deps.backoff } : {}) });
    socket.on("disconnected", () => this.link.dropped("Socket Mode link closed"));
    socket.on("slack_event", (e: SocketModeEnvelope) => void this.onEnvelope(e));
  }

  // ---- lifecycle (start/stop/status: LinkedBackend) ----

  escape(text: string): string {
    return escapeText(text);
  }

  botNames(): string[] {
    if (!this.self) return [this.config.bot.name, `@${this.config.bot.name}`];
    return [this.self.name, `@${this.self.name}`, `<@${this.self.userId}>`];
  }

  /** Who we are, asked once (auth.test) before the first link opens. */
  private async learnSelf(): Promise<void> {
    if (this.self) return;
    const me = await this.call("auth.test", {}, AuthTestSchema);
    this.self = { userId: me.user_id, name: me.user, ...(me.bot_id ? { botId: me.bot_id } : {}) };
    log.info("authenticated", { user: me.user, userId: me.user_id });
  }

  // ---- incoming ----

  private async onEnvelope(e: SocketModeEnvelope): Promise<void> {
    // Ack first, always: Slack redelivers anything not acked within 3 s.
    if (e.envelope_id) await e.ack().catch((err: unknown) => log.warn("could not ack an envelope", { error: String(err) }));
    if (e.type === "interactive") return this.onInteractive(e.body);
    const event = e.type === "events_api" ? messageEvent(e.body) : undefined;
    if (!event) return;
    // Keep arrival order while identity lookups run; the handler itself is not awaited.
    this.queue = this.queue.then(() => this.dispatch(event)).catch((err: unknown) => {
      log.error("could not process a Slack event", { error: String(err) });
    });
  }

  /** A click on one of our buttons (actions.ts): the person who clicked, as for a typed message. */
  private onInteractive(body: unknown): void {
    const click = readClick(body);
    if (!click) return;
    this.queue = this.queue.then(() => this.dispatchClick(click)).catch((err: unknown) => {
      log.error("could not process a Slack click", { error: String(err) });
    });
  }

  private async dispatchClick(click: SlackClick): Promise<void> {
    const direct = click.channel.startsWith("D");
    const roomName = direct ? undefined : await this.roomName(click.channel);
    if (direct) this.dms.set(click.user, click.channel);
    const user = await this.directory.user(click.user).catch(() => undefined);
    const msg: Message = { text: "", from: slackIdentity(click.user, user, roomName), direct, action: this.clickAction(click) };
    if (roomName !== undefined) msg.room = { id: click.channel, name: `#${roomName}` };
    if (click.thread) msg.thread = click.thread;
    this.deliver(msg);
  }

  /** Updates the clicked message in place (chat.update); tells the clicker alone (chat.postEphemeral). */
  private clickAction(click: SlackClick): ActionClick {
    return {
      token: click.token,
      update: async (note) => {
        const blocks = answeredBlocks(click.blocks, note);
        await this.call("chat.update", { channel: click.channel, ts: click.ts, text: click.text, blocks }, AnySchema);
      },
      notify: async (text) => {
        const args = { channel: click.channel, user: click.user, text: escapeText(text), ...(click.thread ? { thread_ts: click.thread } : {}) };
        await this.call("chat.postEphemeral", args, AnySchema);
      },
    };
  }

  private async dispatch(ev: SlackMessageEvent): Promise<void> {
    this.deliver(await this.toMessage(ev));
  }

  private async toMessage(ev: SlackMessageEvent): Promise<Message | undefined> {
    const self = this.self;
    if (!self || !isSpeech(ev, self) || this.alreadySeen(`${ev.channel}:${ev.ts}`)) return undefined;
    const direct = isDirect(ev);
    const { text, mentioned } = stripMention(normaliseIncomingText(ev.text), self);
    const roomName = direct ? undefined : await this.roomName(ev.channel);
    if (direct) this.dms.set(ev.user, ev.channel);
    const user = await this.directory.user(ev.user).catch((err: unknown) => {
      log.warn("could not look up a user", { user: ev.user, error: String(err) });
      return undefined;
    });
    const msg: Message = { text, from: slackIdentity(ev.user, user, roomName), direct, mentioned, raw: ev };
    if (roomName !== undefined) msg.room = { id: ev.channel, name: `#${roomName}` };
    if (ev.thread_ts) msg.thread = ev.thread_ts;
    return msg;
  }

  private alreadySeen(key: string): boolean {
    if (this.seen.has(key)) return true;
    this.seen.add(key);
    if (this.seen.size > 1000) this.seen.delete(this.seen.values().next().value!);
    return false;
  }

  private async roomName(id: string): Promise<string> {
    const room = await this.directory.room(id).catch((err: unknown) => {
      log.warn("could not look up a channel name", { channel: id, error: String(err) });
      return undefined;
    });
    return room?.name ?? id;
  }

  replyTarget(msg: Message): Target {
    if (msg.direct || !msg.room) return { kind: "user", id: msg.from.id, name: msg.from.nick };
    return { kind: "room", id: msg.room.id, name: msg.room.name, ...(msg.thread ? { thread: msg.thread } : {}) };
  }

  sourceChannel(msg: Message): string {
    if (msg.direct || !msg.room) return `<@${msg.from.id}>`;
    return `<#${msg.room.id}|${msg.room.name.replace(/^#/, "")}>`;
  }

  // ---- outgoing ----

  async send(target: Target, msg: Outgoing): Promise<void> {
    const channel = target.kind === "room" ? target.id : await this.dmChannel(target.id);
    await this.call("chat.postMessage", { channel, ...withActions(buildPostArgs(target, msg), msg.actions) }, AnySchema);
  }

  async post(target: Target, msg: Outgoing): Promise<MessageRef> {
    const channel = target.kind === "room" ? target.id : await this.dmChannel(target.id);
    const posted = await this.call("chat.postMessage", { channel, ...buildPostArgs(target, msg) }, PostedSchema);
    return { room: posted.channel, id: posted.ts };
  }

  /** `chat.update` takes no thread: the message stays where it was posted. */
  async edit(ref: MessageRef, msg: Outgoing): Promise<void> {
    const { thread_ts: _thread, ...args } = buildPostArgs({ kind: "room", id: ref.room }, msg);
    // Without them Slack keeps the old ones: a plain-text edit of a message with attachments.
    await this.call("chat.update", { channel: ref.room, ts: ref.id, attachments: [], blocks: [], text: "", ...args }, AnySchema);
  }

  private async dmChannel(userId: string): Promise<string> {
    const known = this.dms.get(userId);
    if (known) return known;
    const { channel } = await this.call("conversations.open", { users: userId }, ConversationOpenSchema);
    this.dms.set(userId, channel.id);
    return channel.id;
  }

  resolve(kind: "user" | "channel", value: string): Promise<Target> {
    return resolveSlackAddress(this.directory, kind, value);
  }
}

/**
 * Creates the Slack backend from `[slack]` (both tokens required, ConfigError otherwise).
 * `start` resolves once connected, or once a recoverable failure has been handed to the
 * reconnect loop; it throws ConfigError when Slack refuses a token.
 */
export function createSlackBackend(config: Config, deps: SlackDeps = {}): ChatBackend {
  return new SlackBackend(config, deps);
}
