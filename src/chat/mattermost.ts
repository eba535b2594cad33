/**
 * The Mattermost backend, on the official `@mattermost/client`: Client4 for REST v4 and its
 * WebSocketClient for events. Identities and strings follow Errbot's Mattermost backend and
 * err-stackstorm, so existing ACLs, rules and `chatops.post_message` calls keep working:
 *
 * - a person is `@username` (Errbot's `aclattr` and `str()` of a MattermostPerson, and the
 *   `user` err-stackstorm's MattermostChatAdapter sends to StackStorm);
 * - a room is `~channel-name` (`str()` of a MattermostRoom, err-stackstorm's `source_channel`
 *   for room messages); a direct message's `source_channel` is the sender, `@username`.
 *
 * Rich messages follow hubot-stackstorm's Mattermost adapter: `extra.mattermost` fields
 * override one Slack-style attachment (or `extra.mattermost.attachments` replaces the list),
 * `extra.color` colours it, and a failed execution is coloured as a failure by default.
 */
import { Client4, ClientError, WebSocketClient } from "@mattermost/client";
import * as v from "valibot";
import type { Config } from "../config/schema.ts";
import { Backoff } from "../lib/backoff.ts";
import { ConfigError, SendError } from "../lib/errors.ts";
import { logger, registerSecret } from "../lib/log.ts";
import type { BackendStatus, ChatBackend, ConnectionState, Identity, Message, MessageHandler, Outgoing, Target } from "./types.ts";

const log = logger("chat.mattermost");

/**
 * What a post's `message` may hold before the server says otherwise. Servers since 5.0 accept
 * 16383 runes and report it as `MaxPostSize` in `/config/client`, which replaces this at start;
 * older servers (and an unreadable config) only take 4000, so 4000 is the one value every
 * server accepts. JavaScript string length counts UTF-16 units, never fewer than runes.
 */
export const FALLBACK_MAX_POST = 4000;
/** Mattermost's RateLimitSettings defaults (PerSec 10, MaxBurst 100), applied per user when enabled. */
export const MATTERMOST_SEND_RATE = { perSecond: 10, burst: 100 } as const;
/** Attachment colour of a failed execution when the announcement names none (Mattermost's "danger"). */
export const FAILURE_COLOR = "#D24B4E";

/** Injectables for tests; every field has a production default. */
export interface MattermostDeps {
  /** Reconnect policy (default: the shared Backoff defaults). */
  backoff?: Backoff;
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

// ---- what the server sends (validated at the boundary) ----

const UserSchema = v.object({
  id: v.string(),
  username: v.string(),
  first_name: v.optional(v.string(), ""),
  last_name: v.optional(v.string(), ""),
  email: v.optional(v.string(), ""),
});
type User = v.InferOutput<typeof UserSchema>;

const ChannelSchema = v.object({
  id: v.string(),
  name: v.string(),
  display_name: v.optional(v.string(), ""),
  type: v.string(),
  team_id: v.optional(v.string(), ""),
});
type Channel = v.InferOutput<typeof ChannelSchema>;

const TeamSchema = v.object({ id: v.string(), name: v.string() });

const EventSchema = v.object({ event: v.optional(v.string()), data: v.optional(v.record(v.string(), v.unknown()), {}) });

const PostedSchema = v.object({
  channel_type: v.string(),
  channel_name: v.optional(v.string(), ""),
  channel_display_name: v.optional(v.string(), ""),
  team_id: v.optional(v.string(), ""),
  post: v.string(),
  mentions: v.optional(v.string()),
});

const PostSchema = v.object({
  id: v.string(),
  user_id: v.string(),
  channel_id: v.string(),
  root_id: v.optional(v.string(), ""),
  message: v.optional(v.string(), ""),
  type: v.optional(v.string(), ""),
});

const ErrorBodySchema = v.object({ id: v.optional(v.string()), message: v.optional(v.string()) });

/** A Mattermost id: 26 characters of lowercase base32. */
const ID = /^[a-z0-9]{26}$/;

// ---- rich formatting ----

type Attachment = Record<string, unknown>;
/** The parts of a Mattermost post st2bot fills in from an Outgoing message. */
export interface PostBody {
  message: string;
  props?: { attachments: Attachment[] };
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/** hubot-stackstorm's `{~}`: text before it is the post's pretext, after it the attachment body. */
function splitPretext(text: string): { pretext: string; body: string } {
  const at = text.indexOf("{~}");
  return at < 0 ? { pretext: "", body: text } : { pretext: text.slice(0, at), body: text.slice(at + 3) };
}

/** StackStorm's result template prints `status : <status>`; these read as failures. */
const failedStatus = (text: string) => /\bstatus\s*:\s*(failed|timeout|abandoned)\b/.test(text);

/**
 * Turns text + `extra` into a post: plain markdown unless the announcement asks for an
 * attachment (`extra.mattermost`, `extra.color`) or reports a failed execution.
 */
export function formatPost(msg: Outgoing): PostBody {
  const extra = msg.extra ?? {};
  const custom = isRecord(extra.mattermost) ? extra.mattermost : undefined;
  const color = typeof extra.color === "string" && extra.color ? extra.color : failedStatus(msg.text) ? FAILURE_COLOR : undefined;
  const { pretext, body } = splitPretext(msg.text);
  const plain = { message: pretext ? `${pretext}\n${body}` : body };
  if (!custom && !color) return plain;
  if (custom && Array.isArray(custom.attachments)) {
    // As hubot does: the announcement brings its own attachments; only the pretext is posted.
    const attachments = custom.attachments.filter(isRecord).map((a) => (color && !a.color ? { ...a, color } : a));
    if (attachments.length === 0) return plain;
    return { message: pretext, props: { attachments } };
  }
  const attachment: Attachment = { fallback: body, text: body, ...(color ? { color } : {}), ...custom };
  return { message: pretext, props: { attachments: [attachment] } };
}

// ---- errors ----

/** The HTTP status Client4 read from Mattermost's error body (`status_code`), if any. */
function statusOf(err: unknown): number | undefined {
  return err instanceof ClientError && typeof err.status_code === "number" ? err.status_code : undefined;
}

const describe = (err: unknown) => (err instanceof Error ? err.message || err.name : String(err));

/** The lookup found nothing: final, and the signal for trying the next reading of a name. */
class NotFoundError extends SendError {
  constructor(what: string) {
    super(`Mattermost: ${what} does not exist`, false);
  }
}

/** A failed lookup as a SendError: missing or forbidden is final, anything else may pass. */
function lookupFailure(err: unknown, what: string): SendError {
  const status = statusOf(err);
  if (status === 403) return new SendError(`Mattermost: the bot may not see ${what}`, false);
  if (status === 404 || status === 400) return new NotFoundError(what);
  return new SendError(`Mattermost: looking up ${what} failed: ${describe(err)}`, true);
}

/** Retry-After (seconds or HTTP date), else X-Ratelimit-Reset (seconds), else one second. */
export function retryAfterMs(headers: Headers, now = Date.now()): number {
  const after = headers.get("retry-after");
  if (after) {
    const secs = Number(after);
    if (Number.isFinite(secs)) return Math.max(0, Math.ceil(secs * 1000));
    const date = Date.parse(after);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = Number(headers.get("x-ratelimit-reset"));
  return Number.isFinite(reset) && reset > 0 ? Math.ceil(reset * 1000) : 1000;
}

async function postFailure(res: Response): Promise<SendError> {
  if (res.status === 429) return new SendError("Mattermost rate limit (429)", true, retryAfterMs(res.headers));
  const body = v.safeParse(ErrorBodySchema, await res.json().catch(() => ({})));
  const reason = body.success && body.output.message ? body.output.message : res.statusText;
  const text = `Mattermost refused the post (${res.status}): ${reason}`;
  // 401: the session expired or the token was revoked: worth retrying once credentials are back.
  return new SendError(text, res.status === 401 || res.status === 408 || res.status >= 500);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---- a small TTL cache for lookups ----

class TtlCache<T> {
  private readonly entries = new Map<string, { value: T; expires: number }>();
  constructor(private readonly ttlMs: number) {}

  get(key: string): T | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires < Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, value: T): T {
    this.entries.set(key, { value, expires: Date.now() + this.ttlMs });
    return value;
  }
}

// ---- identities ----

/** Errbot's MattermostPerson: `@username` is both `str()` and `aclattr`; err-stackstorm sends it as `user`. */
function identityOf(user: User): Identity {
  const fullName = `${user.first_name} ${user.last_name}`.trim();
  return {
    id: user.id,
    nick: user.username,
    ...(fullName ? { fullName } : {}),
    ...(user.email ? { email: user.email } : {}),
    aclId: `@${user.username}`,
    st2User: `@${user.username}`,
  };
}

/** Open and private channels are `~name` (Errbot's MattermostRoom); a group DM has no team name, so its title. */
function roomName(type: string, name: string, displayName: string, id: string): string {
  if (type === "O" || type === "P") return `~${name}`;
  return displayName || id;
}

const userTarget = (u: User): Target => ({ kind: "user", id: u.id, name: `@${u.username}` });
const roomTarget = (c: Channel): Target => ({ kind: "room", id: c.id, name: roomName(c.type, c.name, c.display_name, c.id) });

// ---- the backend ----

class MattermostBackend implements ChatBackend {
  readonly name = "mattermost";
  readonly sendRate = MATTERMOST_SEND_RATE;
  private maxPost = FALLBACK_MAX_POST;
  private readonly client = new Client4();
  private ws?: WebSocketClient;
  private socket?: WebSocket;
  private me?: User;
  private teamId?: string;
  private handler?: MessageHandler;
  private queue: Promise<unknown> = Promise.resolve();
  private state: BackendStatus = { state: "disconnected", since: Date.now() };
  private stopped = false;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private helloTimer?: ReturnType<typeof setTimeout>;
  private loggingIn?: Promise<void>;
  private readonly backoff: Backoff;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;
  private readonly users: TtlCache<User>;
  private readonly channels: TtlCache<Channel>;
  private readonly directs: TtlCache<string>;

  constructor(
    private readonly cfg: Config["mattermost"] & { url: string },
    private readonly botName: string,
    private readonly deps: MattermostDeps,
  ) {
    this.backoff = deps.backoff ?? new Backoff();
    this.fetch = deps.fetch ?? fetch;
    this.timeoutMs = deps.requestTimeoutMs ?? 15_000;
    const ttl = deps.cacheTtlMs ?? 600_000;
    this.users = new TtlCache(ttl);
    this.channels = new TtlCache(ttl);
    this.directs = new TtlCache(ttl);
    this.client.setUrl(cfg.url.replace(/\/+$/, ""));
    this.client.setIncludeCookies(false);
    this.client.setUserAgent("st2bot");
    registerSecret(cfg.token);
    registerSecret(cfg.password);
  }

  /** The server's MaxPostSize once known, else the value every server accepts. */
  get maxMessageLength(): number {
    return this.maxPost;
  }

  async start(onMessage: MessageHandler): Promise<void> {
    this.handler = onMessage;
    this.stopped = false;
    this.setState("connecting");
    try {
      await this.setUp();
    } catch (err) {
      if (err instanceof ConfigError) {
        this.setState("disconnected", err.message);
        throw err;
      }
      // Mattermost is down or unreachable: keep trying in the background, as after a drop.
      log.warn("cannot reach Mattermost yet; retrying", { error: describe(err) });
      this.setState("disconnected", describe(err));
      this.scheduleReconnect();
      return;
    }
    this.openSocket();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.helloTimer);
    this.reconnectTimer = undefined;
    this.ws?.close();
    this.socket?.close();
    this.setState("stopped");
  }

  status(): BackendStatus {
    return this.state;
  }

  botNames(): string[] {
    const names = this.me ? [this.me.username, `@${this.me.username}`] : [];
    for (const n of [this.botName, `@${this.botName}`]) if (!names.includes(n)) names.push(n);
    return names;
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

  /**
   * Accepts `@user`, `~channel`, Errbot's occupant form `~channel/user`, a 26-character user or
   * channel id, and a bare name (a channel first for `channel`, a user first for `user`).
   */
  async resolve(kind: "user" | "channel", value: string): Promise<Target> {
    const text = value.trim();
    const occupant = /^~([^/\s]+)\/(\S+)$/.exec(text);
    if (occupant) return kind === "user" ? this.resolveAs(["user"], occupant[2]!, text) : this.resolveAs(["channel"], occupant[1]!, text);
    if (text.startsWith("@")) return this.resolveAs(["user"], text.slice(1), text);
    if (text.startsWith("~")) return this.resolveAs(["channel"], text.slice(1), text);
    return this.resolveAs(kind === "user" ? ["user", "channel"] : ["channel", "user"], text, text);
  }

  async send(target: Target, msg: Outgoing): Promise<void> {
    const channelId = target.kind === "room" ? target.id : await this.directChannel(target.id);
    const { message, props } = formatPost(msg);
    const post = { channel_id: channelId, message, root_id: target.kind === "room" ? (target.thread ?? "") : "", ...(props ? { props } : {}) };
    let res = await this.createPost(post);
    if (res.status === 401 && this.cfg.password) {
      // A password session expired: log in again once, then retry the same post.
      await this.relogin().catch(() => undefined);
      res = await this.createPost(post);
    }
    if (!res.ok) throw await postFailure(res);
  }

  // ---- sessions ----

  /** Logs in, reads who the bot is, which team names resolve in and the server's post limit. */
  private async setUp(): Promise<void> {
    if (this.cfg.token) this.client.setToken(this.cfg.token);
    else await this.login();
    this.me = v.parse(UserSchema, await this.call(() => this.client.getMe(), "users/me").catch((e) => this.authFailure(e)));
    this.users.set(this.me.id, this.me);
    this.teamId = await this.findTeam();
    const limit = await this.call(() => this.client.getClientConfig(), "config").then((c) => Number(c.MaxPostSize), () => NaN);
    if (Number.isInteger(limit) && limit > 0) this.maxPost = limit;
    log.info("logged in", { user: `@${this.me.username}`, team: this.cfg.team ?? "(none)", maxPostSize: this.maxPost });
  }

  private async login(): Promise<void> {
    if (!this.cfg.login || !this.cfg.password) throw new ConfigError("mattermost: set mattermost.token, or mattermost.login with a password");
    const { login, password } = this.cfg;
    await withTimeout(this.client.login(login, password), this.timeoutMs, "Mattermost login").catch((e) => this.authFailure(e));
    registerSecret(this.client.getToken());
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
    if (this.cfg.team) {
      const team = await this.call(() => this.client.getTeamByName(this.cfg.team!), "team").catch((e) => {
        if (statusOf(e) === 404 || statusOf(e) === 403) throw new ConfigError(`mattermost.team: the bot is not in a team named "${this.cfg.team}"`);
        throw e;
      });
      return v.parse(TeamSchema, team).id;
    }
    // Without a configured team, a bot in exactly one team uses it; `~name` needs a team.
    const teams = v.parse(v.array(TeamSchema), await this.call(() => this.client.getMyTeams(), "teams"));
    if (teams.length !== 1) log.warn(`mattermost.team is not set and the bot is in ${teams.length} teams: ~channel names will not resolve`);
    return teams.length === 1 ? teams[0]!.id : undefined;
  }

  /** One REST call with a deadline; a password bot whose session expired logs in again once. */
  private async call<T>(fn: () => Promise<T>, what: string): Promise<T> {
    try {
      return await withTimeout(fn(), this.timeoutMs, `Mattermost ${what}`);
    } catch (err) {
      if (statusOf(err) !== 401 || !this.cfg.password) throw err;
      await this.relogin();
      return withTimeout(fn(), this.timeoutMs, `Mattermost ${what}`);
    }
  }

  /** Concurrent callers that all met an expired session share one new login. */
  private relogin(): Promise<void> {
    this.loggingIn ??= this.login().finally(() => (this.loggingIn = undefined));
    return this.loggingIn;
  }

  // ---- the event socket ----

  private openSocket(): void {
    if (this.stopped) return;
    if (!this.ws) this.ws = this.newClient();
    this.ws.close(); // clears a pending library retry: reconnects follow our Backoff, not its own
    this.ws.initialize(this.client.getWebSocketUrl().replace(/^http/, "ws"), this.client.getToken());
    clearTimeout(this.helloTimer);
    this.helloTimer = setTimeout(() => {
      log.warn("no hello from Mattermost; reconnecting");
      this.socket?.close();
    }, this.deps.helloTimeoutMs ?? 15_000);
  }

  private newClient(): WebSocketClient {
    const make = this.deps.newWebSocket ?? ((url: string) => new WebSocket(url));
    const ws = new WebSocketClient({
      newWebSocketFn: (url) => (this.socket = make(url)),
      clientPingInterval: this.deps.pingIntervalMs ?? 30_000,
      // The library's own retry timer is parked far away; our close listener reconnects.
      minWebSocketRetryTime: 86_400_000,
      maxWebSocketRetryTime: 86_400_000,
      reconnectJitterRange: 0,
    });
    ws.addMessageListener((event) => this.onEvent(event));
    ws.addCloseListener(() => this.onClose());
    // A new server session restarts the event sequence; without a listener the client loops.
    ws.addMissedMessageListener(() => log.warn("Mattermost started a new event session; posts sent while disconnected were missed"));
    return ws;
  }

  private onClose(): void {
    clearTimeout(this.helloTimer);
    if (this.stopped) {
      // The library arms its own (parked) retry timer right after this listener; disarm it so
      // a stopped backend holds no timers and the process can exit.
      setTimeout(() => this.ws?.close(), 0);
      return;
    }
    this.setState("disconnected", "event socket closed");
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const delay = this.backoff.next();
    log.info("reconnecting", { inMs: delay, attempt: this.backoff.attempts });
    this.reconnectTimer = setTimeout(() => void this.reconnect(), delay);
  }

  private async reconnect(): Promise<void> {
    this.reconnectTimer = undefined;
    if (this.stopped) return;
    this.setState("connecting");
    try {
      if (this.me) await this.checkSession();
      else await this.setUp();
      this.openSocket();
    } catch (err) {
      log.warn("reconnect failed", { error: describe(err) });
      this.setState("disconnected", describe(err));
      this.scheduleReconnect();
    }
  }

  /** Before a new socket: is the session still good? (`call` logs a password bot in again.) */
  private async checkSession(): Promise<void> {
    await this.call(() => this.client.getMe(), "users/me");
  }

  private onEvent(raw: unknown): void {
    const parsed = v.safeParse(EventSchema, raw);
    if (!parsed.success) return;
    const { event, data } = parsed.output;
    if (event === "hello") {
      clearTimeout(this.helloTimer);
      this.backoff.reset();
      this.setState("connected", `as @${this.me?.username ?? "?"}`);
    } else if (event === "posted") {
      // Turned into messages one at a time so they reach the handler in the order Mattermost
      // sent them (sender lookups are async); handling itself runs concurrently, so one slow
      // command does not hold up everyone else's.
      this.queue = this.queue
        .then(() => this.onPosted(data))
        .then((msg) => msg && this.dispatch(msg))
        .catch((err) => log.error("a posted event failed", { error: describe(err) }));
    }
  }

  private dispatch(msg: Message): void {
    const handler = this.handler;
    if (!handler) return;
    Promise.resolve()
      .then(() => handler(msg))
      .catch((err) => log.error("the message handler failed", { error: describe(err) }));
  }

  /** The message a `posted` event carries for the bot, or undefined when it is not one. */
  private async onPosted(data: Record<string, unknown>): Promise<Message | undefined> {
    const event = v.safeParse(PostedSchema, data);
    if (!event.success || !this.me) return undefined;
    const post = v.safeParse(PostSchema, safeJson(event.output.post));
    if (!post.success) return undefined;
    const p = post.output;
    // The bot's own posts come back as events too; system posts (joins, header changes) are not speech.
    if (p.user_id === this.me.id || p.type !== "") return undefined;
    const e = event.output;
    if (e.team_id && this.teamId && e.team_id !== this.teamId) return undefined; // another team's channel
    const sender = await this.userById(p.user_id).catch((err: unknown) => {
      // Never guess an identity from `sender_name` (a display name, or a webhook's override):
      // ACLs match on it, so a wrong guess could slip past a deny rule.
      log.error("cannot read the sender's profile; message dropped", { userId: p.user_id, error: describe(err) });
      return undefined;
    });
    return sender && this.toMessage(p, e, identityOf(sender));
  }

  private toMessage(p: v.InferOutput<typeof PostSchema>, e: v.InferOutput<typeof PostedSchema>, from: Identity): Message {
    const direct = e.channel_type === "D";
    if (direct) this.directs.set(from.id, p.channel_id);
    const mentionIds = v.safeParse(v.array(v.string()), safeJson(e.mentions ?? "[]"));
    const { text, named } = this.stripMention(p.message);
    const mentioned = named || (mentionIds.success && mentionIds.output.includes(this.me!.id));
    return {
      text,
      from,
      direct,
      ...(direct ? {} : { room: { id: p.channel_id, name: roomName(e.channel_type, e.channel_name, e.channel_display_name, p.channel_id) } }),
      ...(p.root_id ? { thread: p.root_id } : {}),
      mentioned,
      raw: { post: p, event: e },
    };
  }

  /** `@st2bot: deploy x` → `deploy x`, so the router sees the command itself. */
  private stripMention(message: string): { text: string; named: boolean } {
    const name = this.me!.username.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    // A name ends where no name character follows (a trailing full stop is punctuation).
    const end = "(?![\\w-]|\\.\\w)";
    const leading = new RegExp(`^\\s*@${name}${end}[:,]?\\s*`, "i");
    if (leading.test(message)) return { text: message.replace(leading, ""), named: true };
    return { text: message, named: new RegExp(`(^|[^\\w@])@${name}${end}`, "i").test(message) };
  }

  // ---- lookups ----

  /** Tries each kind by id (when the key looks like one), then each by name. */
  private async resolveAs(kinds: ("user" | "channel")[], key: string, asked: string): Promise<Target> {
    if (!key) throw new SendError(`Mattermost: "${asked}" names nobody`, false);
    const attempts = [...(ID.test(key) ? kinds.map((k) => () => this.byId(k, key)) : []), ...kinds.map((k) => () => this.byName(k, key))];
    for (const attempt of attempts) {
      const found = await attempt();
      if (found) return found;
    }
    throw new SendError(`Mattermost: no ${kinds.join(" or ")} "${asked}"`, false);
  }

  private async byName(kind: "user" | "channel", name: string): Promise<Target | undefined> {
    if (kind === "user") return maybe(this.userByName(name)).then((u) => u && userTarget(u));
    return maybe(this.channelByName(name)).then((c) => c && roomTarget(c));
  }

  private async byId(kind: "user" | "channel", id: string): Promise<Target | undefined> {
    if (kind === "user") return maybe(this.userById(id)).then((u) => u && userTarget(u));
    return maybe(this.channelById(id)).then((c) => c && roomTarget(c));
  }

  private async userById(id: string): Promise<User> {
    return this.users.get(id) ?? this.cacheUser(await this.lookup(() => this.client.getUser(id), UserSchema, `user ${id}`));
  }

  private async userByName(name: string): Promise<User> {
    const key = `@${name.toLowerCase()}`;
    return this.users.get(key) ?? this.cacheUser(await this.lookup(() => this.client.getUserByUsername(name.toLowerCase()), UserSchema, `user @${name}`));
  }

  private cacheUser(u: User): User {
    this.users.set(`@${u.username}`, u);
    return this.users.set(u.id, u);
  }

  private async channelById(id: string): Promise<Channel> {
    return this.channels.get(id) ?? this.cacheChannel(await this.lookup(() => this.client.getChannel(id), ChannelSchema, `channel ${id}`));
  }

  private async channelByName(name: string): Promise<Channel> {
    const teamId = this.teamId;
    // Channel names are unique per team only; without one, a name reads as nothing here.
    if (!teamId) throw new NotFoundError(`channel ~${name} (mattermost.team is not set)`);
    const key = `~${name.toLowerCase()}`;
    return this.channels.get(key) ?? this.cacheChannel(await this.lookup(() => this.client.getChannelByName(teamId, name.toLowerCase()), ChannelSchema, `channel ~${name}`));
  }

  private cacheChannel(c: Channel): Channel {
    this.channels.set(`~${c.name}`, c);
    return this.channels.set(c.id, c);
  }

  /** The direct channel between the bot and a person, created on first use as Errbot does. */
  private async directChannel(userId: string): Promise<string> {
    const cached = this.directs.get(userId);
    if (cached) return cached;
    if (!this.me) throw new SendError("Mattermost: not logged in yet", true);
    const me = this.me.id;
    const channel = await this.lookup(() => this.client.createDirectChannel([me, userId]), ChannelSchema, `user ${userId}`);
    return this.directs.set(userId, channel.id);
  }

  private async lookup<S extends v.GenericSchema>(fn: () => Promise<unknown>, schema: S, what: string): Promise<v.InferOutput<S>> {
    let raw: unknown;
    try {
      raw = await this.call(fn, what);
    } catch (err) {
      throw lookupFailure(err, what);
    }
    const parsed = v.safeParse(schema, raw);
    if (!parsed.success) throw new SendError(`Mattermost: unexpected answer for ${what}`, true);
    return parsed.output;
  }

  private async createPost(post: Record<string, unknown>): Promise<Response> {
    const options = this.client.getOptions({ method: "post", body: JSON.stringify(post) });
    try {
      return await this.fetch(this.client.getPostsRoute(), { ...options, signal: AbortSignal.timeout(this.timeoutMs) } as RequestInit);
    } catch (err) {
      // Network errors and timeouts: the post may or may not exist; the outbox retries.
      throw new SendError(`Mattermost: posting failed: ${describe(err)}`, true);
    }
  }

  private setState(state: ConnectionState, detail?: string): void {
    if (this.state.state === state && this.state.detail === detail) return;
    this.state = { state, ...(detail ? { detail } : {}), since: Date.now() };
    const fields = detail ? { detail } : undefined;
    if (state === "disconnected") log.warn(state, fields);
    else log.info(state, fields);
  }
}

/** A lookup that does not find anything is `undefined`; other failures still throw. */
async function maybe<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Builds the Mattermost backend from `config.mattermost` (url; token, or login + password;
 * team). Throws ConfigError when the url or credentials are missing; `start` throws ConfigError
 * when Mattermost rejects the credentials or the team does not exist, and otherwise keeps
 * reconnecting with the shared Backoff until `stop`.
 */
export function createMattermostBackend(config: Config, deps: MattermostDeps = {}): ChatBackend {
  const mm = config.mattermost;
  if (!mm.url) throw new ConfigError("mattermost.url is required (e.g. https://chat.example.com)");
  if (!mm.token && !(mm.login && mm.password)) {
    throw new ConfigError("mattermost: set mattermost.token (a personal access or bot token), or mattermost.login with mattermost.password");
  }
  return new MattermostBackend({ ...mm, url: mm.url }, config.bot.name, deps);
}
