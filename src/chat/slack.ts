/**
 * The Slack backend: events arrive over Socket Mode (@slack/socket-mode, app-level `xapp-`
 * token, so no public URL is needed) and messages go out through the Web API (@slack/web-api,
 * bot `xoxb-` token). Identities and strings follow Errbot's slackv3 backend and err-stackstorm's
 * SlackChatV3Adapter, so existing ACLs, rules and `chatops.post_message` calls keep working:
 *
 * - a person's ACL attribute is their user id `U123` (slackv3's `aclattr`);
 * - `source_channel` is `<#C123|general>` in a room (`str(SlackRoom)`) and `<@U123>` in a DM
 *   (`str(SlackPerson)`);
 * - the `user` sent to StackStorm is what `SlackChatV3Adapter.get_username` returns: `<@U123>` in
 *   a DM and, because Errbot names a room occupant `#channel/nick`, `#channel` in a room.
 *
 * Rich messages follow hubot-stackstorm's Slack adapter and err-stackstorm's: `extra.slack`
 * holding only legacy attachment fields styles one attachment that carries the text;
 * `extra.slack.attachments`/`blocks` (or other chat.postMessage arguments) are posted as given
 * with the text as the message text; `extra.color` colours the attachment, and a failed
 * execution is coloured `danger` when nothing else says so.
 */
import { SocketModeClient } from "@slack/socket-mode";
import {
  type Logger as SlackLogger,
  LogLevel,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
} from "@slack/web-api";
import * as v from "valibot";
import type { Config } from "../config/schema.ts";
import { Backoff, sleep } from "../lib/backoff.ts";
import { ConfigError, SendError } from "../lib/errors.ts";
import { logger, redact, registerSecret } from "../lib/log.ts";
import type { BackendStatus, ChatBackend, ConnectionState, Identity, Message, MessageHandler, Outgoing, Target } from "./types.ts";

const log = logger("chat.slack");

/**
 * Slack truncates `text` beyond 40,000 characters but asks for at most 4,000 "for best results":
 * longer messages are collapsed behind "Show more" and attachment text is clipped sooner. Splitting
 * at 4,000 keeps every part fully visible; the 40,000 hard limit would hide most of a long result.
 */
export const SLACK_MAX_MESSAGE_LENGTH = 4000;
/** Slack's published posting limit: about one message per second per channel, short bursts allowed. */
export const SLACK_SEND_RATE = { perSecond: 1, burst: 3 } as const;
/** hubot-stackstorm's default attachment colours (`ST2_SLACK_SUCCESS_COLOR`/`ST2_SLACK_FAIL_COLOR`). */
export const SLACK_COLORS = { success: "#dfdfdf", failure: "danger" } as const;

/** Injectables for tests; every field has a production default. */
export interface SlackDeps {
  /** Reconnect policy (default: the shared Backoff defaults). */
  backoff?: Backoff;
  /** Any single Web API call (default 15 s). */
  requestTimeoutMs?: number;
  /** From `apps.connections.open` to Slack's `hello` (default 15 s); a silent link is replaced. */
  connectTimeoutMs?: number;
  /** How long the user and channel directory is trusted before a full reload (default 10 min). */
  cacheTtlMs?: number;
  /** A name that is not in the directory reloads it, but at most this often (default 30 s). */
  missRefreshMs?: number;
  /** Attachment colours when the announcement names none. */
  colors?: { success: string; failure: string };
}

// ---- what Slack sends (validated at the boundary) -------------------------------------------

const AuthTestSchema = v.object({ user_id: v.string(), user: v.string(), bot_id: v.optional(v.string()) });

const UserSchema = v.object({
  id: v.string(),
  name: v.string(),
  deleted: v.optional(v.boolean(), false),
  real_name: v.optional(v.string()),
  profile: v.optional(
    v.object({ display_name: v.optional(v.string()), real_name: v.optional(v.string()), email: v.optional(v.string()) }),
    {},
  ),
});
type SlackUser = v.InferOutput<typeof UserSchema>;

const ConversationSchema = v.object({
  id: v.string(),
  name: v.optional(v.string()),
  is_im: v.optional(v.boolean(), false),
  is_archived: v.optional(v.boolean(), false),
  user: v.optional(v.string()),
});
type SlackConversation = v.InferOutput<typeof ConversationSchema>;

const NextCursor = v.optional(v.object({ next_cursor: v.optional(v.string(), "") }), { next_cursor: "" });
const UsersListSchema = v.object({ members: v.array(UserSchema), response_metadata: NextCursor });
const ConversationsListSchema = v.object({ channels: v.array(ConversationSchema), response_metadata: NextCursor });
const UsersInfoSchema = v.object({ user: UserSchema });
const ConversationInfoSchema = v.object({ channel: ConversationSchema });
const ConversationOpenSchema = v.object({ channel: v.object({ id: v.string() }) });
const AnySchema = v.unknown();

const MessageEventSchema = v.object({
  type: v.picklist(["message", "app_mention"]),
  channel: v.string(),
  user: v.optional(v.string()),
  text: v.optional(v.string(), ""),
  ts: v.string(),
  thread_ts: v.optional(v.string()),
  channel_type: v.optional(v.string()),
  subtype: v.optional(v.string()),
  bot_id: v.optional(v.string()),
});
type SlackMessageEvent = v.InferOutput<typeof MessageEventSchema>;
const EventsApiBodySchema = v.object({ event: v.looseObject({ type: v.string() }) });

/** `extra.slack` as packs write it; anything else is logged and the text goes out plain. */
const JsonObject = v.record(v.string(), v.unknown());
const SlackExtraSchema = v.looseObject({
  attachments: v.optional(v.array(JsonObject)),
  blocks: v.optional(v.array(JsonObject)),
  thread_response: v.optional(v.union([v.boolean(), v.string()])),
  thread_ts: v.optional(v.string()),
  text: v.optional(v.string()),
  pretext: v.optional(v.string()),
  color: v.optional(v.string()),
});
type SlackExtra = v.InferOutput<typeof SlackExtraSchema>;

// ---- outgoing formatting --------------------------------------------------------------------

/** Slack's legacy attachment fields: an `extra.slack` made only of these styles one attachment. */
const LEGACY_FIELDS = new Set([
  "author_icon", "author_link", "author_name", "color", "fallback", "fields", "footer", "footer_icon",
  "image_url", "mrkdwn_in", "pretext", "text", "thumb_url", "title", "title_link", "ts",
]);
/** chat.postMessage arguments a pack may set; routing keys (channel, token, as_user) never pass. */
const POST_ARGS = new Set([
  "attachments", "blocks", "icon_emoji", "icon_url", "username", "unfurl_links", "unfurl_media",
  "mrkdwn", "parse", "link_names", "reply_broadcast", "metadata",
]);
/** Our own keys inside `extra.slack`, consumed here and never sent. */
const OWN_KEYS = new Set(["thread_response", "thread_ts"]);
/** hubot-stackstorm's split between attachment pretext and text. */
const PRETEXT_DELIMITER = "{~}";
const FAILED_STATUS = /^\s*status\s*:\s*(failed|timeout|abandoned)\b/m;

/**
 * Builds chat.postMessage arguments (without `channel`) for `msg` sent to `target`: thread,
 * then one of plain `text`, one styled attachment, or the pack's own attachments/blocks.
 */
export function buildPostArgs(target: Target, msg: Outgoing, colors: { success: string; failure: string } = SLACK_COLORS): Record<string, unknown> {
  const rawSlack = msg.extra?.slack;
  const parsed = rawSlack === undefined ? undefined : v.safeParse(SlackExtraSchema, rawSlack);
  if (parsed && !parsed.success) log.warn("extra.slack is not a Slack message shape; sending plain text", { issue: parsed.issues[0]?.message });
  const slack: SlackExtra = parsed?.success ? parsed.output : {};
  const color = typeof msg.extra?.color === "string" ? msg.extra.color : undefined;
  const args = threadArgs(target, slack);
  const keys = Object.keys(slack).filter((k) => !OWN_KEYS.has(k));
  if (keys.some((k) => !LEGACY_FIELDS.has(k))) return { ...args, ...nativeArgs(slack, msg.text) };
  if (keys.length > 0 || color !== undefined || FAILED_STATUS.test(msg.text)) {
    return { ...args, attachments: [legacyAttachment(msg.text, slack, color, colors)] };
  }
  return { ...args, text: msg.text };
}

function threadArgs(target: Target, slack: SlackExtra): Record<string, unknown> {
  const explicit = slack.thread_ts ?? (typeof slack.thread_response === "string" ? slack.thread_response : undefined);
  const inherited = target.kind === "room" && slack.thread_response !== false ? target.thread : undefined;
  const thread = explicit ?? inherited;
  return thread ? { thread_ts: thread } : {};
}

/** err-stackstorm's block path: the pack's arguments as given, the message as the text. */
function nativeArgs(slack: SlackExtra, text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(slack)) {
    if (POST_ARGS.has(k)) out[k] = val;
    else if (!OWN_KEYS.has(k) && k !== "text") log.debug("ignoring an extra.slack key chat.postMessage does not take", { key: k });
  }
  const body = text !== "" ? text : slack.text;
  if (body) out.text = body;
  return out;
}

/** hubot-stackstorm's attachment: colour by status, the pack's legacy fields, the text inside. */
function legacyAttachment(text: string, slack: SlackExtra, color: string | undefined, colors: { success: string; failure: string }) {
  const cut = text.indexOf(PRETEXT_DELIMITER);
  const pretext = cut >= 0 ? text.slice(0, cut) : slack.pretext;
  const body = cut >= 0 ? text.slice(cut + PRETEXT_DELIMITER.length) : text;
  const attachment: Record<string, unknown> = {
    color: color ?? (FAILED_STATUS.test(text) ? colors.failure : colors.success),
    mrkdwn_in: ["text", "pretext"],
    ...slack,
    text: body,
    fallback: body,
  };
  if (pretext) attachment.pretext = pretext;
  else delete attachment.pretext;
  for (const k of OWN_KEYS) delete attachment[k];
  return attachment;
}

// ---- incoming text --------------------------------------------------------------------------

/**
 * What Slack's encoding of a typed message hides: links `<http://x|x>` back to what was typed,
 * `&amp; &lt; &gt;`, and the smart quotes clients insert (hubot-stackstorm does the same), so
 * alias parameters arrive as the person meant them. Mentions `<@U1>`/`<#C1|x>` stay as they are.
 */
export function normaliseIncomingText(text: string): string {
  return text
    .replace(/<((?:https?|mailto):[^|>]+)\|([^>]+)>/g, "$2")
    .replace(/<((?:https?|mailto):[^>]+)>/g, "$1")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/** Strips a leading `<@UBOT>` (or `@st2bot`) and the `:`/`,` people put after it. */
function stripMention(text: string, botId: string, botName: string): { text: string; mentioned: boolean } {
  const escaped = botName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const lead = new RegExp(`^\\s*(?:<@${botId}(?:\\|[^>]*)?>|@${escaped}\\b)[:,]?\\s*`, "i");
  const m = lead.exec(text);
  return m ? { text: text.slice(m[0].length), mentioned: true } : { text, mentioned: false };
}

// ---- addresses StackStorm sends back --------------------------------------------------------

type Address =
  | { kind: "userId"; id: string }
  | { kind: "roomId"; id: string }
  | { kind: "userName"; name: string }
  | { kind: "roomName"; name: string }
  | { kind: "bare"; name: string };

const USER_ID = /^[UW][A-Z0-9]{2,}$/;
const ROOM_ID = /^[CGD][A-Z0-9]{2,}$/;

/**
 * Every form a `user` or `channel` may take: `<@U1>`, `<@U1|name>`, `@name`, `<#C1>`,
 * `<#C1|name>`, `#name`, `#name/nick` (Errbot's room occupant), raw U/W/C/G/D ids, bare names.
 */
export function parseSlackAddress(value: string): Address | undefined {
  const s = value.trim();
  let m = /^<@([UWB][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(s);
  if (m) return { kind: "userId", id: m[1]! };
  m = /^<#([CGD][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(s);
  if (m) return { kind: "roomId", id: m[1]! };
  if (s.startsWith("@") && s.length > 1) return { kind: "userName", name: s.slice(1) };
  if (s.startsWith("#") && s.length > 1) return { kind: "roomName", name: s.slice(1).split("/")[0]! };
  if (USER_ID.test(s)) return { kind: "userId", id: s };
  if (ROOM_ID.test(s)) return { kind: "roomId", id: s };
  if (s === "" || /[\s<>]/.test(s)) return undefined;
  return { kind: "bare", name: s };
}

// ---- Web API errors → SendError -------------------------------------------------------------

/** A failed Web API call; `slackError` is Slack's own code (`channel_not_found`, ...) when it sent one. */
export class SlackSendError extends SendError {
  constructor(message: string, retryable: boolean, retryAfterMs?: number, readonly slackError?: string) {
    super(message, retryable, retryAfterMs);
  }
}

/** Slack error codes that may succeed later unchanged; every other platform error is final. */
const TRANSIENT = new Set(["internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited", "team_added_to_org"]);
/** Codes meaning a token is wrong, not that a call failed. */
const AUTH_ERRORS = new Set(["invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type"]);

function toSendError(method: string, err: unknown): SendError {
  if (err instanceof SendError) return err;
  if (err instanceof WebAPIRateLimitedError) {
    return new SlackSendError(`Slack rate-limited ${method}; retry after ${err.retryAfter}s`, true, err.retryAfter * 1000, "ratelimited");
  }
  if (err instanceof WebAPIPlatformError) {
    const code = err.data.error;
    return new SlackSendError(`Slack ${method} failed: ${code}`, TRANSIENT.has(code), code === "ratelimited" ? 1000 : undefined, code);
  }
  if (err instanceof WebAPIHTTPError) {
    return new SendError(`Slack ${method} answered HTTP ${err.statusCode}`, err.statusCode >= 500 || err.statusCode === 408);
  }
  const cause = err instanceof WebAPIRequestError ? err.original : err;
  const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  return new SendError(`Slack ${method} could not be reached (${redact(detail).slice(0, 200)})`, true);
}

/** The SDKs log through ours (debug), so their lines carry our redaction and component. */
function sdkLogger(name: string): SlackLogger {
  const l = logger(name);
  let level = LogLevel.DEBUG;
  const line = (msg: unknown[]) => msg.map((m) => (typeof m === "string" ? m : m instanceof Error ? m.message : JSON.stringify(m))).join(" ");
  return {
    debug: (...m: unknown[]) => l.debug(line(m)),
    info: (...m: unknown[]) => l.debug(line(m)),
    warn: (...m: unknown[]) => l.debug(line(m)),
    error: (...m: unknown[]) => l.debug(line(m)),
    setLevel: (x: LogLevel) => {
      level = x;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

// ---- the user and channel directory ---------------------------------------------------------

type Call = <T>(method: string, args: Record<string, unknown>, schema: v.GenericSchema<unknown, T>) => Promise<T>;

/**
 * Names → ids for users and channels, loaded with users.list / conversations.list (paged by
 * cursor) and single ids fetched with users.info / conversations.info. The whole directory is
 * reloaded after `ttlMs`, and on a name miss at most every `missRefreshMs`.
 */
class SlackDirectory {
  private users = new Map<string, SlackUser>();
  private rooms = new Map<string, SlackConversation>();
  private loadedAt = -Infinity;
  private loading?: Promise<void>;
  /** Which conversation types the app's scopes allow listing (see `conversations`). */
  private typeSet = 0;

  constructor(private readonly call: Call, private readonly ttlMs: number, private readonly missRefreshMs: number) {}

  async user(id: string): Promise<SlackUser> {
    const cached = this.users.get(id);
    if (cached) return cached;
    const { user } = await this.call("users.info", { user: id }, UsersInfoSchema);
    this.users.set(user.id, user);
    return user;
  }

  async room(id: string): Promise<SlackConversation> {
    const cached = this.rooms.get(id);
    if (cached) return cached;
    const { channel } = await this.call("conversations.info", { channel: id }, ConversationInfoSchema);
    this.rooms.set(channel.id, channel);
    return channel;
  }

  /** A person by handle, display name or real name (the first match, in that order). */
  async userByName(name: string): Promise<SlackUser | undefined> {
    const find = () => {
      const live = [...this.users.values()].filter((u) => !u.deleted);
      const lower = name.toLowerCase();
      return live.find((u) => u.name.toLowerCase() === lower)
        ?? live.find((u) => u.profile.display_name?.toLowerCase() === lower)
        ?? live.find((u) => (u.profile.real_name ?? u.real_name)?.toLowerCase() === lower);
    };
    return this.lookup(find);
  }

  async roomByName(name: string): Promise<SlackConversation | undefined> {
    const lower = name.toLowerCase();
    return this.lookup(() => [...this.rooms.values()].find((c) => !c.is_im && !c.is_archived && c.name?.toLowerCase() === lower));
  }

  private async lookup<T>(find: () => T | undefined): Promise<T | undefined> {
    if (Date.now() - this.loadedAt >= this.ttlMs) {
      await this.reload().catch((err: unknown) => {
        // An expired directory still answers while Slack refuses a reload; an empty one cannot.
        if (this.loadedAt === -Infinity) throw err;
        log.warn("could not reload the Slack directory; using the last one", { error: String(err) });
      });
    }
    const hit = find();
    if (hit !== undefined || Date.now() - this.loadedAt < this.missRefreshMs) return hit;
    await this.reload();
    return find();
  }

  private reload(): Promise<void> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async load(): Promise<void> {
    const users = await this.pages("users.list", {}, UsersListSchema, (r) => r.members);
    const rooms = await this.conversations();
    this.users = new Map(users.map((u) => [u.id, u]));
    this.rooms = new Map(rooms.map((c) => [c.id, c]));
    this.loadedAt = Date.now();
    log.debug("directory loaded", { users: users.length, channels: rooms.length });
  }

  /**
   * Every conversation the bot may name. Asking for a type the app has no scope for fails the
   * whole call (`missing_scope`), so an app without groups:read / mpim:read still resolves
   * public channels.
   */
  private async conversations(): Promise<SlackConversation[]> {
    const typeSets = ["public_channel,private_channel,mpim", "public_channel,private_channel", "public_channel"];
    for (; this.typeSet < typeSets.length; this.typeSet++) {
      const types = typeSets[this.typeSet]!;
      try {
        return await this.pages("conversations.list", { types, exclude_archived: true }, ConversationsListSchema, (r) => r.channels);
      } catch (err) {
        if (!(err instanceof SlackSendError && err.slackError === "missing_scope") || this.typeSet === typeSets.length - 1) throw err;
        log.warn("the Slack app may not list some conversation types; add the scope to resolve them by name", { types });
      }
    }
    return [];
  }

  private async pages<R extends { response_metadata: { next_cursor: string } }, T>(
    method: string, args: Record<string, unknown>, schema: v.GenericSchema<unknown, R>, items: (r: R) => T[],
  ): Promise<T[]> {
    const out: T[] = [];
    let cursor = "";
    do {
      const page = await this.call(method, { ...args, limit: 200, ...(cursor ? { cursor } : {}) }, schema);
      out.push(...items(page));
      cursor = page.response_metadata.next_cursor;
    } while (cursor);
    return out;
  }
}

// ---- the backend ----------------------------------------------------------------------------

interface Self {
  userId: string;
  name: string;
  botId?: string;
}

interface SocketModeEnvelope {
  ack: () => Promise<void>;
  type: string;
  body: unknown;
  envelope_id?: string;
}

class SlackBackend implements ChatBackend {
  readonly name = "slack";
  readonly maxMessageLength = SLACK_MAX_MESSAGE_LENGTH;
  readonly sendRate = SLACK_SEND_RATE;

  private readonly web: WebClient;
  private readonly socket: SocketModeClient;
  private readonly directory: SlackDirectory;
  private readonly backoff: Backoff;
  private readonly connectTimeoutMs: number;
  private readonly colors: { success: string; failure: string };
  private state: BackendStatus = { state: "disconnected", detail: "not started", since: Date.now() };
  private handler: MessageHandler = () => undefined;
  private self?: Self;
  private stopped = false;
  private connecting = false;
  private abort = new AbortController();
  /** user id → DM channel id, learned from incoming DMs and conversations.open. */
  private readonly dms = new Map<string, string>();
  /** `channel:ts` of recent messages: `message` and `app_mention` arrive for the same post. */
  private readonly seen = new Set<string>();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly config: Config, deps: SlackDeps) {
    const { bot_token: botToken, app_token: appToken, api_url: slackApiUrl } = config.slack;
    if (!botToken || !appToken) {
      throw new ConfigError("the Slack backend needs slack.bot_token (xoxb-…) and slack.app_token (xapp-…, for Socket Mode)");
    }
    registerSecret(botToken);
    registerSecret(appToken);
    const timeout = deps.requestTimeoutMs ?? 15_000;
    // No SDK retries or rate-limit sleeps: a failure surfaces at once as a SendError and the
    // outbox (or our reconnect loop) decides when to try again.
    const common = { slackApiUrl, timeout, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } };
    this.web = new WebClient(botToken, { ...common, logger: sdkLogger("chat.slack.web") });
    this.socket = new SocketModeClient({
      appToken,
      autoReconnectEnabled: false,
      logger: sdkLogger("chat.slack.socket"),
      clientOptions: common,
    });
    this.directory = new SlackDirectory((m, a, s) => this.call(m, a, s), deps.cacheTtlMs ?? 600_000, deps.missRefreshMs ?? 30_000);
    this.backoff = deps.backoff ?? new Backoff();
    this.connectTimeoutMs = deps.connectTimeoutMs ?? 15_000;
    this.colors = deps.colors ?? SLACK_COLORS;
    this.socket.on("slack_event", (e: SocketModeEnvelope) => void this.onEnvelope(e));
    this.socket.on("disconnected", () => this.onSocketClosed());
  }

  // ---- lifecycle ----

  async start(onMessage: MessageHandler): Promise<void> {
    this.handler = onMessage;
    this.stopped = false;
    this.abort = new AbortController();
    try {
      await this.connect();
    } catch (err) {
      if (isAuthFailure(err)) {
        this.setState("disconnected", "Slack refused the token");
        throw new ConfigError(`Slack refused the configured token (${(err as SendError).message}); check slack.bot_token and slack.app_token`);
      }
      this.setState("disconnected", (err as Error).message);
      void this.reconnectLoop(err);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await withTimeout(this.socket.disconnect(), 3000).catch(() => undefined);
    this.setState("stopped");
  }

  status(): BackendStatus {
    return { ...this.state };
  }

  botNames(): string[] {
    const name = this.self?.name ?? this.config.bot.name;
    return this.self ? [name, `@${name}`, `<@${this.self.userId}>`] : [name, `@${name}`];
  }

  /** One attempt: learn who we are (once), open a Socket Mode link, wait for `hello`. */
  private async connect(): Promise<void> {
    this.setState("connecting");
    if (!this.self) {
      const me = await this.call("auth.test", {}, AuthTestSchema);
      this.self = { userId: me.user_id, name: me.user, ...(me.bot_id ? { botId: me.bot_id } : {}) };
      log.info("authenticated", { user: me.user, userId: me.user_id });
    }
    try {
      await withTimeout(this.socket.start(), this.connectTimeoutMs);
    } catch (err) {
      await withTimeout(this.socket.disconnect(), 3000).catch(() => undefined);
      throw toSendError("apps.connections.open", err);
    }
    if (this.stopped) return;
    this.backoff.reset();
    this.setState("connected");
  }

  private onSocketClosed(): void {
    if (this.stopped || this.connecting || this.state.state !== "connected") return;
    this.setState("disconnected", "Socket Mode link closed");
    void this.reconnectLoop();
  }

  private async reconnectLoop(lastError?: unknown): Promise<void> {
    if (this.connecting) return;
    this.connecting = true;
    try {
      while (!this.stopped) {
        // A rate-limited apps.connections.open says how long to wait; never come back sooner.
        const retryAfter = lastError instanceof SendError ? (lastError.retryAfterMs ?? 0) : 0;
        const delay = Math.max(this.backoff.next(), retryAfter);
        log.debug("reconnecting", { inMs: delay, attempt: this.backoff.attempts });
        await sleep(delay, this.abort.signal);
        if (this.stopped) return;
        try {
          await this.connect();
          return;
        } catch (err) {
          lastError = err;
          this.setState("disconnected", (err as Error).message);
        }
      }
    } finally {
      this.connecting = false;
    }
  }

  private setState(state: ConnectionState, detail?: string): void {
    // A connect attempt unwinding after stop() must not make a stopped backend look alive.
    if (this.stopped && state !== "stopped") return;
    if (this.state.state === state && this.state.detail === detail) return;
    this.state = { state, ...(detail ? { detail } : {}), since: Date.now() };
    const fields = detail ? { detail } : undefined;
    if (state === "disconnected" && detail !== "not started") log.warn(`state ${state}`, fields);
    else log.info(`state ${state}`, fields);
  }

  // ---- incoming ----

  private async onEnvelope(e: SocketModeEnvelope): Promise<void> {
    // Ack first, always: Slack redelivers anything not acked within 3 s.
    if (e.envelope_id) await e.ack().catch((err: unknown) => log.warn("could not ack an envelope", { error: String(err) }));
    if (e.type !== "events_api") return;
    const body = v.safeParse(EventsApiBodySchema, e.body);
    if (!body.success) return;
    const event = v.safeParse(MessageEventSchema, body.output.event);
    if (!event.success) return;
    // Keep arrival order while identity lookups run; the handler itself is not awaited.
    this.queue = this.queue.then(() => this.dispatch(event.output)).catch((err: unknown) => {
      log.error("could not process a Slack event", { error: String(err) });
    });
  }

  private async dispatch(ev: SlackMessageEvent): Promise<void> {
    const msg = await this.toMessage(ev);
    if (!msg) return;
    Promise.resolve()
      .then(() => this.handler(msg))
      .catch((err: unknown) => log.error("message handler failed", { error: String(err) }));
  }

  private async toMessage(ev: SlackMessageEvent): Promise<Message | undefined> {
    const self = this.self;
    if (!self || !ev.user || ev.user === self.userId || (ev.bot_id && ev.bot_id === self.botId)) return undefined;
    // Edits, joins, topic changes and bot posts are not commands; a thread reply also sent to
    // the channel is.
    if (ev.subtype !== undefined && ev.subtype !== "thread_broadcast") return undefined;
    if (this.alreadySeen(`${ev.channel}:${ev.ts}`)) return undefined;
    const direct = ev.type === "message" && (ev.channel_type === "im" || ev.channel.startsWith("D"));
    const { text, mentioned } = stripMention(normaliseIncomingText(ev.text), self.userId, self.name);
    const roomName = direct ? undefined : await this.roomName(ev.channel);
    if (direct) this.dms.set(ev.user, ev.channel);
    const msg: Message = {
      text,
      from: await this.identity(ev.user, roomName),
      direct,
      mentioned,
      raw: ev,
    };
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

  /** Errbot slackv3's person: `aclattr` the user id; err-stackstorm's `user` per the file comment. */
  private async identity(userId: string, roomName: string | undefined): Promise<Identity> {
    const user = await this.directory.user(userId).catch((err: unknown) => {
      log.warn("could not look up a user", { user: userId, error: String(err) });
      return undefined;
    });
    const id: Identity = {
      id: userId,
      nick: user?.profile.display_name || user?.name || userId,
      aclId: userId,
      st2User: roomName === undefined ? `<@${userId}>` : `#${roomName}`,
    };
    const fullName = user?.profile.real_name || user?.real_name;
    if (fullName) id.fullName = fullName;
    if (user?.profile.email) id.email = user.profile.email;
    return id;
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
    await this.call("chat.postMessage", { channel, ...buildPostArgs(target, msg, this.colors) }, AnySchema);
  }

  private async dmChannel(userId: string): Promise<string> {
    const known = this.dms.get(userId);
    if (known) return known;
    const { channel } = await this.call("conversations.open", { users: userId }, ConversationOpenSchema);
    this.dms.set(userId, channel.id);
    return channel.id;
  }

  async resolve(kind: "user" | "channel", value: string): Promise<Target> {
    const address = parseSlackAddress(value);
    const target = address && (await this.lookup(kind, address));
    if (!target) throw new SendError(`Slack has no ${kind} "${value}"`, false);
    return target;
  }

  private async lookup(kind: "user" | "channel", a: Address): Promise<Target | undefined> {
    switch (a.kind) {
      case "userId":
        return this.userTarget(await this.existing(() => this.directory.user(a.id), "user_not_found"));
      case "roomId":
        return this.roomTarget(await this.existing(() => this.directory.room(a.id), "channel_not_found"));
      case "userName":
        return this.userTarget(await this.directory.userByName(a.name));
      case "roomName":
        return this.roomTarget(await this.directory.roomByName(a.name));
      case "bare": {
        // A bare name means what the field says first (hubot sends plain names and ids).
        const user = async () => this.userTarget(await this.directory.userByName(a.name));
        const room = async () => this.roomTarget(await this.directory.roomByName(a.name));
        return kind === "user" ? (await user()) ?? (await room()) : (await room()) ?? (await user());
      }
    }
  }

  /** An id lookup where Slack's "no such thing" means undefined and anything else is thrown. */
  private async existing<T>(fetch: () => Promise<T>, notFound: string): Promise<T | undefined> {
    try {
      return await fetch();
    } catch (err) {
      if (err instanceof SlackSendError && err.slackError === notFound) return undefined;
      throw err;
    }
  }

  private userTarget(user: SlackUser | undefined): Target | undefined {
    return user && !user.deleted ? { kind: "user", id: user.id, name: user.name } : undefined;
  }

  private roomTarget(room: SlackConversation | undefined): Target | undefined {
    if (!room) return undefined;
    // A DM's own id (hubot's source_channel) is posted to as is; no conversations.open needed.
    if (room.is_im) return { kind: "room", id: room.id };
    return { kind: "room", id: room.id, ...(room.name ? { name: `#${room.name}` } : {}) };
  }

  /** One Web API call: errors become SendError, answers are validated. */
  private async call<T>(method: string, args: Record<string, unknown>, schema: v.GenericSchema<unknown, T>): Promise<T> {
    let result: unknown;
    try {
      result = await this.web.apiCall(method, args);
    } catch (err) {
      throw toSendError(method, err);
    }
    const parsed = v.safeParse(schema, result);
    if (!parsed.success) throw new SendError(`Slack ${method} answered in an unexpected shape`, true);
    return parsed.output;
  }
}

function isAuthFailure(err: unknown): boolean {
  return err instanceof SlackSendError && err.slackError !== undefined && AUTH_ERRORS.has(err.slackError);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Creates the Slack backend from `config.slack` (both tokens required, ConfigError otherwise).
 * `start` resolves once connected, or once a recoverable failure has been handed to the
 * reconnect loop; it throws ConfigError when Slack refuses a token.
 */
export function createSlackBackend(config: Config, deps: SlackDeps = {}): ChatBackend {
  return new SlackBackend(config, deps);
}
