/**
 * A Slack workspace on loopback, answering on the wire the way Slack does, for driving the real
 * @slack/web-api and @slack/socket-mode clients in tests.
 *
 * - Web API: `POST <apiUrl><method>` with a form-encoded, JSON or query body; the token comes from
 *   `Authorization: Bearer` or a `token` argument. Answers are HTTP 200 `{ok:true,...}` or
 *   `{ok:false,error}` with Slack's error codes (`not_authed`, `invalid_auth`,
 *   `not_allowed_token_type`, `channel_not_found`, `not_in_channel`, `user_not_found`, `no_text`,
 *   `invalid_blocks`, `invalid_attachments`, `msg_too_long`, `invalid_arguments`, `invalid_cursor`,
 *   `unknown_method`), or HTTP 429 with `Retry-After` when a rate limit is injected.
 * - Socket Mode: `apps.connections.open` (app token only) hands out a one-time `ws://` URL; on
 *   connect the socket gets `hello`; events arrive as `events_api` envelopes that must be acked by
 *   `envelope_id` within 3 s (unacked ones are redelivered with `retry_attempt`, as Slack does);
 *   `disconnect(reason)` sends Slack's `disconnect` message and closes the socket later.
 * - `chat.update` replaces the text/attachments/blocks of a message the bot posted (by channel id
 *   and `ts`; omitted attachments/blocks are kept, an empty array removes them, as Slack does):
 *   `message_not_found`, `cant_update_message` (another user's), `channel_not_found`, `no_text`,
 *   `msg_too_long`; each edit is recorded in `edits` and echoed as a `message_changed` event.
 */
import type { Server } from "bun";
import { type Answer, type ApiCall, ApiError, APP_ID, type Args, channelType, checkBlock, defaultWorkspace, type Envelope, type EphemeralMessage, jsonArray, optBool, optInt, optString, parseBody, type PostedMessage, redactToken, requireString, type SlackChannelFixture, type SlackEmulatorOptions, type SlackUserFixture, type SocketData, TEAM, tokenOf, type Ws } from "./slack-wire.ts";

export type { ApiCall, EphemeralMessage, PostedMessage, SlackChannelFixture, SlackEmulatorOptions, SlackUserFixture } from "./slack-wire.ts";
export { defaultWorkspace } from "./slack-wire.ts";

export class SlackEmulator {
  readonly botToken: string;
  readonly appToken: string;
  readonly bot: { id: string; name: string; botId: string };
  /** Every chat.postMessage the workspace accepted, in order. */
  readonly received: PostedMessage[] = [];
  /** Every chat.postEphemeral the workspace accepted, in order. */
  readonly ephemerals: EphemeralMessage[] = [];
  /** Every chat.update the workspace accepted, in order (the message as it became). */
  readonly edits: PostedMessage[] = [];
  /** Every Web API call, answered or refused. */
  readonly calls: ApiCall[] = [];
  /** Every envelope sent over Socket Mode (redeliveries included), in order. */
  readonly envelopes: Envelope[] = [];
  /** Envelope ids acked by the client, in ack order. */
  readonly acks: string[] = [];
  /** Number of WebSocket connections that completed the handshake. */
  connectionsOpened = 0;

  private server!: Server<SocketData>;
  private readonly users = new Map<string, SlackUserFixture>();
  private readonly channels = new Map<string, SlackChannelFixture & { is_im?: boolean; user?: string }>();
  private readonly sockets = new Set<Ws>();
  private readonly tickets = new Set<string>();
  private readonly pendingAcks = new Map<string, { sentAt: number; timer: Timer; envelope: Envelope; socket: number }>();
  private readonly lateAcks: string[] = [];
  private readonly undelivered: Envelope[] = [];
  /** `channel:ts` of people's messages, which the bot may not update. */
  private readonly userMessages = new Set<string>();
  private readonly rateLimits = new Map<string, { count: number; retryAfterSec: number }>();
  private readonly timers = new Set<Timer>();
  private delayMs = 0;
  private seq = 0;
  private readonly maxPageSize: number;
  private readonly ackTimeoutMs: number;
  private readonly echoBotMessages: boolean;
  private readonly missingScopes: Set<string>;

  private constructor(opts: SlackEmulatorOptions) {
    const ws = defaultWorkspace();
    this.botToken = opts.botToken ?? "xoxb-emulated-bot-token";
    this.appToken = opts.appToken ?? "xapp-1-emulated-app-token";
    this.bot = opts.bot ?? ws.bot;
    for (const u of opts.users ?? ws.users) this.users.set(u.id, u);
    for (const c of opts.channels ?? ws.channels) this.channels.set(c.id, { ...c, members: [...c.members] });
    this.maxPageSize = opts.maxPageSize ?? 1000;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 3000;
    this.echoBotMessages = opts.echoBotMessages ?? true;
    this.missingScopes = new Set(opts.missingScopes ?? []);
  }

  /** Starts the emulator on 127.0.0.1 with a free port. */
  static start(opts: SlackEmulatorOptions = {}): SlackEmulator {
    const emu = new SlackEmulator(opts);
    emu.server = Bun.serve<SocketData>({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req, server) => emu.handleHttp(req, server),
      websocket: {
        open: (ws) => emu.onOpen(ws),
        message: (ws, data) => emu.onSocketMessage(ws, data),
        close: (ws) => emu.socketGone(ws),
      },
    });
    return emu;
  }

  /** The Web API root to give as `slackApiUrl`. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.server.port}/api/`;
  }

  // ---- controls -------------------------------------------------------------------------------

  /**
   * A person posts in a channel (id or name), or in their DM with the bot when `channel` is
   * omitted. Emits the `message` event, and `app_mention` too when the text mentions the bot
   * outside a DM, exactly as Slack does for an app subscribed to both.
   */
  postUserMessage(msg: { user: string; channel?: string; text: string; thread_ts?: string; subtype?: string }): { ts: string; channel: string } {
    if (!this.users.has(msg.user)) throw new Error(`emulator: no user ${msg.user}`);
    const conv = msg.channel === undefined ? this.openIm(msg.user) : this.findConversation(msg.channel);
    if (!conv) throw new Error(`emulator: no channel ${msg.channel}`);
    const ts = this.nextTs();
    const event: Record<string, unknown> = {
      client_msg_id: crypto.randomUUID(),
      type: "message",
      text: msg.text,
      user: msg.user,
      ts,
      team: TEAM.id,
      channel: conv.id,
      event_ts: ts,
      channel_type: channelType(conv),
    };
    if (msg.subtype) event.subtype = msg.subtype;
    this.userMessages.add(`${conv.id}:${ts}`);
    if (msg.thread_ts) Object.assign(event, { thread_ts: msg.thread_ts, parent_user_id: msg.user });
    this.emitEvent(event);
    if (!conv.is_im && msg.text.includes(`<@${this.bot.id}>`)) {
      const mention: Record<string, unknown> = { type: "app_mention", user: msg.user, text: msg.text, ts, team: TEAM.id, channel: conv.id, event_ts: ts };
      if (msg.thread_ts) mention.thread_ts = msg.thread_ts;
      this.emitEvent(mention);
    }
    return { ts, channel: conv.id };
  }

  /** Emits any Events API event as an envelope (for event types the helpers do not cover). */
  emitEvent(event: Record<string, unknown>): string {
    const envelope: Envelope = {
      envelope_id: crypto.randomUUID(),
      type: "events_api",
      accepts_response_payload: false,
      retry_attempt: 0,
      retry_reason: "",
      payload: {
        token: "verification-token-unused-in-socket-mode",
        team_id: TEAM.id,
        api_app_id: APP_ID,
        event,
        type: "event_callback",
        event_id: `Ev${(++this.seq).toString().padStart(9, "0")}`,
        event_time: Math.floor(Date.now() / 1000),
        authorizations: [{ team_id: TEAM.id, user_id: this.bot.id, is_bot: true, is_enterprise_install: false }],
        is_ext_shared_channel: false,
      },
    };
    this.deliver(envelope);
    return envelope.envelope_id;
  }

  /**
   * A person clicks a button (`value` given) or picks an option (`option` given: its value) of
   * a message the bot posted, as Slack does for an app with interactivity on: an `interactive`
   * envelope carrying a `block_actions` payload (the clicked element under `actions`, the
   * message as it is now under `message`, its place under `container`), to be acked like any
   * envelope. Throws when the message or the element does not exist or the user cannot see it.
   */
  click(c: { user: string; channel: string; ts: string; value?: string; option?: string }): string {
    const user = this.users.get(c.user);
    const posted = this.received.find((m) => m.channel === c.channel && m.ts === c.ts);
    if (!user || !posted) throw new Error(`emulator: no user ${c.user} or no message ${c.channel}/${c.ts}`);
    const conv = this.channels.get(c.channel)!;
    if (!conv.is_im && !conv.members.includes(c.user)) throw new Error(`emulator: ${c.user} is not in ${c.channel}`);
    if (conv.is_im && conv.user !== c.user) throw new Error(`emulator: ${c.user} cannot see that DM`);
    const found = (posted.blocks ?? []).flatMap((b) => (b.type === "actions" ? ((b.elements as Record<string, unknown>[]) ?? []).map((e) => ({ b, e })) : []))
      .find(({ e }) => (c.option !== undefined ? ((e.options as { value: string }[] | undefined) ?? []).some((o) => o.value === c.option) : e.value === c.value));
    if (!found) throw new Error("emulator: no such button or option in that message");
    const { b, e } = found;
    const actionTs = `${Math.floor(Date.now() / 1000)}.${String(++this.seq).padStart(6, "0")}`;
    const action: Record<string, unknown> = { action_id: e.action_id, block_id: b.block_id, type: e.type, action_ts: actionTs };
    if (c.option !== undefined) {
      const opt = (e.options as { text: unknown; value: string }[]).find((o) => o.value === c.option)!;
      Object.assign(action, { selected_option: opt, placeholder: e.placeholder });
    } else Object.assign(action, { value: e.value, text: e.text, ...(e.style ? { style: e.style } : {}) });
    const message: Record<string, unknown> = { type: "message", user: this.bot.id, bot_id: this.bot.botId, app_id: APP_ID, text: posted.text ?? "", ts: posted.ts, team: TEAM.id, blocks: posted.blocks };
    if (posted.thread_ts) message.thread_ts = posted.thread_ts;
    const envelope: Envelope = {
      envelope_id: crypto.randomUUID(),
      type: "interactive",
      accepts_response_payload: false,
      retry_attempt: 0,
      retry_reason: "",
      payload: {
        type: "block_actions",
        user: { id: user.id, username: user.name, name: user.name, team_id: TEAM.id },
        api_app_id: APP_ID,
        token: "verification-token-unused-in-socket-mode",
        container: { type: "message", message_ts: posted.ts, channel_id: conv.id, is_ephemeral: false, ...(posted.thread_ts ? { thread_ts: posted.thread_ts } : {}) },
        trigger_id: `${this.seq}.${TEAM.id}.${crypto.randomUUID().replace(/-/g, "")}`,
        team: { id: TEAM.id, domain: TEAM.domain },
        enterprise: null,
        is_enterprise_install: false,
        channel: { id: conv.id, name: conv.is_im ? "directmessage" : conv.name },
        message,
        state: { values: {} },
        response_url: `https://hooks.slack.com/actions/${TEAM.id}/${this.seq}/emulated`,
        actions: [action],
      },
    };
    this.deliver(envelope);
    return envelope.envelope_id;
  }

  /** The next `count` calls of `method` answer 429 with `Retry-After: retryAfterSec`. */
  rateLimit(method: string, count: number, retryAfterSec: number): void {
    this.rateLimits.set(method, { count, retryAfterSec });
  }

  /** Every Web API answer is delayed by `ms` (0 turns it off). */
  slow(ms: number): void {
    this.delayMs = ms;
  }

  /**
   * Sends Slack's `disconnect` message (`refresh_requested`, `warning`, `link_disabled`) on every
   * open socket and closes them after `closeAfterMs` if the client has not closed them first.
   */
  disconnect(reason: "refresh_requested" | "warning" | "link_disabled", closeAfterMs = reason === "warning" ? 3000 : 1000): void {
    for (const ws of this.sockets) {
      ws.data.draining = true;
      ws.send(JSON.stringify({ type: "disconnect", reason, debug_info: { host: "applink-emulated" } }));
      this.later(closeAfterMs, () => {
        if (this.sockets.has(ws)) ws.close(1000, "disconnect");
      });
    }
  }

  /** Cuts every socket without a close frame, like a server crash or a network drop. */
  dropSockets(): void {
    for (const ws of [...this.sockets]) {
      ws.terminate();
      this.socketGone(ws);
    }
  }

  /** Open, non-draining sockets. */
  get openSockets(): number {
    return [...this.sockets].filter((ws) => !ws.data.draining).length;
  }

  /**
   * Waits (up to `ms`) until nothing is awaiting an ack or a socket, then returns the envelope
   * ids never acked. Use at teardown: an envelope in flight when a socket died is redelivered.
   */
  async settledAcks(ms = 5000): Promise<string[]> {
    const deadline = Date.now() + ms;
    while ((this.pendingAcks.size > 0 || this.undelivered.length > 0) && Date.now() < deadline) await Bun.sleep(20);
    return this.missingAcks();
  }

  /** Envelope ids never acked (pending beyond the deadline or not yet delivered). */
  missingAcks(): string[] {
    const acked = new Set(this.acks);
    return [...new Set(this.envelopes.map((e) => e.envelope_id))].filter((id) => !acked.has(id));
  }

  /** Envelope ids acked only after Slack's deadline (Slack would have redelivered them). */
  lateAckIds(): string[] {
    return [...this.lateAcks];
  }

  /** Adds a user or channel to the workspace while running. */
  addUser(user: SlackUserFixture): void {
    this.users.set(user.id, user);
  }
  addChannel(channel: SlackChannelFixture): void {
    this.channels.set(channel.id, { ...channel, members: [...channel.members] });
  }

  /** The DM conversation id between `user` and the bot, creating it like conversations.open. */
  imFor(user: string): string {
    return this.openIm(user).id;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const p of this.pendingAcks.values()) clearTimeout(p.timer);
    this.timers.clear();
    this.pendingAcks.clear();
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
    await this.server.stop(true);
  }

  // ---- HTTP -----------------------------------------------------------------------------------

  private async handleHttp(req: Request, server: Server<SocketData>): Promise<Response | undefined> {
    const url = new URL(req.url);
    if (url.pathname === "/link/") return this.upgrade(req, url, server);
    const match = /^\/api\/([\w.]+)$/.exec(url.pathname);
    if (!match) return new Response("Not Found", { status: 404 });
    const method = match[1]!;
    const at = Date.now();
    if (this.delayMs > 0) await Bun.sleep(this.delayMs);
    let args: Args = {};
    let answer: Answer;
    try {
      const parsed = await parseBody(req, url);
      args = parsed.args;
      answer = this.limited(method) ?? this.call(method, args, tokenOf(req, parsed));
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError("invalid_form_data");
      answer = { body: { ok: false, error: e.error, ...e.extra } };
    }
    const status = answer.status ?? 200;
    const error = answer.body.ok === false ? String(answer.body.error) : undefined;
    this.calls.push({ method, args: redactToken(args), status, at, ...(error ? { error } : {}) });
    return Response.json(answer.body, { status, headers: answer.headers });
  }

  private limited(method: string): Answer | undefined {
    const limit = this.rateLimits.get(method);
    if (!limit || limit.count <= 0) return undefined;
    limit.count--;
    return { status: 429, headers: { "Retry-After": String(limit.retryAfterSec) }, body: { ok: false, error: "ratelimited" } };
  }

  private call(method: string, args: Args, token: string | undefined): Answer {
    const handler = this.methods[method];
    if (!handler) return { body: { ok: false, error: "unknown_method", req_method: method } };
    if (token === undefined || token === "") throw new ApiError("not_authed");
    const kind = token === this.appToken ? "app" : token === this.botToken ? "bot" : undefined;
    if (!kind) throw new ApiError("invalid_auth");
    if ((method === "apps.connections.open") !== (kind === "app")) throw new ApiError("not_allowed_token_type");
    return { body: { ok: true, ...handler(args) } };
  }

  private readonly methods: Record<string, (args: Args) => Record<string, unknown>> = {
    "auth.test": () => ({
      url: `https://${TEAM.domain}.slack.com/`,
      team: TEAM.name,
      user: this.bot.name,
      team_id: TEAM.id,
      user_id: this.bot.id,
      bot_id: this.bot.botId,
      is_enterprise_install: false,
    }),
    "apps.connections.open": () => {
      const ticket = crypto.randomUUID();
      this.tickets.add(ticket);
      return { url: `ws://127.0.0.1:${this.server.port}/link/?ticket=${ticket}&app_id=${APP_ID}` };
    },
    "users.list": (args) => {
      this.needScope("users:read");
      const members = [...this.users.values()].map((u) => this.userJson(u));
      const { page, next } = this.page(members, args, "users");
      return { members: page, cache_ts: Math.floor(Date.now() / 1000), response_metadata: { next_cursor: next } };
    },
    "users.info": (args) => {
      this.needScope("users:read");
      const id = optString(args, "user");
      const user = id === undefined ? undefined : this.users.get(id);
      if (!user) throw new ApiError("user_not_found");
      return { user: this.userJson(user) };
    },
    "conversations.list": (args) => {
      const types = (optString(args, "types") ?? "public_channel").split(",").map((t) => t.trim());
      const scopeOf: Record<string, string> = { public_channel: "channels:read", private_channel: "groups:read", mpim: "mpim:read", im: "im:read" };
      for (const t of types) this.needScope(scopeOf[t] ?? "channels:read");
      const excludeArchived = optBool(args, "exclude_archived");
      const visible = [...this.channels.values()].filter((c) => {
        if (excludeArchived && c.is_archived) return false;
        if (c.is_im) return types.includes("im") && c.user !== undefined;
        if (c.is_private) return types.includes("private_channel") && c.members.includes(this.bot.id);
        return types.includes("public_channel");
      });
      const { page, next } = this.page(visible.map((c) => this.channelJson(c)), args, "channels");
      return { channels: page, response_metadata: { next_cursor: next } };
    },
    "conversations.info": (args) => {
      const conv = this.visibleConversation(requireString(args, "channel", "channel_not_found"));
      return { channel: this.channelJson(conv) };
    },
    "conversations.open": (args) => {
      const users = optString(args, "users");
      const channel = optString(args, "channel");
      if (channel !== undefined) return { channel: this.channelJson(this.visibleConversation(channel)) };
      if (users === undefined || users === "") throw new ApiError("users_list_not_supplied");
      const ids = users.split(",").map((u) => u.trim());
      if (ids.length !== 1) throw new ApiError("not_implemented_in_emulator");
      const user = this.users.get(ids[0]!);
      if (!user || user.deleted) throw new ApiError("user_not_found");
      if (user.is_bot) throw new ApiError("cannot_dm_bot");
      const existed = [...this.channels.values()].some((c) => c.is_im && c.user === user.id);
      const im = this.openIm(user.id);
      return { no_op: existed, already_open: existed, channel: { id: im.id } };
    },
    "chat.postMessage": (args) => this.postMessage(args),
    "chat.update": (args) => this.updateMessage(args),
    "chat.postEphemeral": (args) => {
      const channel = requireString(args, "channel", "channel_not_found");
      const user = requireString(args, "user", "user_not_found");
      const text = requireString(args, "text", "no_text");
      const conv = this.visibleConversation(channel);
      if (!conv.is_im && !conv.members.includes(user)) throw new ApiError("user_not_in_channel");
      const threadTs = optString(args, "thread_ts");
      this.ephemerals.push({ channel: conv.id, user, text, ...(threadTs ? { thread_ts: threadTs } : {}) });
      return { message_ts: this.nextTs() };
    },
  };

  /** `chat.update`: only the bot's own message, in the channel (an id) it was posted to. */
  private updateMessage(args: Args): Record<string, unknown> {
    const channel = requireString(args, "channel", "channel_not_found");
    const ts = requireString(args, "ts", "message_not_found");
    if (!this.channels.has(channel)) throw new ApiError("channel_not_found");
    const index = this.received.findIndex((m) => m.channel === channel && m.ts === ts);
    if (index < 0) {
      if (this.userMessages.has(`${channel}:${ts}`)) throw new ApiError("cant_update_message");
      throw new ApiError("message_not_found");
    }
    const old = this.received[index]!;
    const text = optString(args, "text") ?? old.text;
    const attachments = jsonArray(args, "attachments", "invalid_attachments") ?? old.attachments;
    const blocks = jsonArray(args, "blocks", "invalid_blocks") ?? old.blocks;
    if (!text && !attachments?.length && !blocks?.length) throw new ApiError("no_text");
    if (text && text.length > 40_000) throw new ApiError("msg_too_long");
    blocks?.forEach(checkBlock);
    // Changed in place (a test holding the message sees it change); `edits` keeps each version.
    Object.assign(old, { args, text, attachments, blocks, edits: (old.edits ?? 0) + 1 });
    this.edits.push({ ...old });
    const message = { type: "message", user: this.bot.id, bot_id: this.bot.botId, text: text ?? "", ts, blocks, edited: { user: this.bot.id, ts: this.nextTs() } };
    if (this.echoBotMessages) {
      const conv = this.channels.get(channel)!;
      this.later(0, () => this.emitEvent({ type: "message", subtype: "message_changed", hidden: true, channel, ts: this.nextTs(), message, event_ts: ts, channel_type: channelType(conv) }));
    }
    return { channel, ts, text: text ?? "", message };
  }

  /** Slack refuses a call needing a scope the token lacks, naming what was needed. */
  private needScope(scope: string): void {
    if (this.missingScopes.has(scope)) {
      throw new ApiError("missing_scope", { needed: scope, provided: "channels:read,chat:write,groups:read,im:read,mpim:read,users:read,users:read.email".split(",").filter((x) => !this.missingScopes.has(x)).join(",") });
    }
  }

  private postMessage(args: Args): Record<string, unknown> {
    const target = requireString(args, "channel", "channel_not_found");
    const conv = this.postTarget(target);
    const text = optString(args, "text");
    const attachments = jsonArray(args, "attachments", "invalid_attachments");
    const blocks = jsonArray(args, "blocks", "invalid_blocks");
    const threadTs = optString(args, "thread_ts");
    if (!text && !attachments?.length && !blocks?.length) throw new ApiError("no_text");
    if (text && text.length > 40_000) throw new ApiError("msg_too_long");
    if (attachments && attachments.length > 100) throw new ApiError("too_many_attachments");
    if (blocks && blocks.length > 50) throw new ApiError("invalid_blocks", { errors: ["no more than 50 items allowed [json-pointer:/blocks]"] });
    blocks?.forEach(checkBlock);
    const ts = this.nextTs();
    const posted: PostedMessage = { channel: conv.id, ts, args };
    if (threadTs !== undefined) posted.thread_ts = threadTs;
    if (text !== undefined) posted.text = text;
    if (attachments) posted.attachments = attachments;
    if (blocks) posted.blocks = blocks;
    this.received.push(posted);
    const message: Record<string, unknown> = {
      type: "message", user: this.bot.id, bot_id: this.bot.botId, app_id: APP_ID, text: text ?? "", ts, team: TEAM.id,
      ...(attachments ? { attachments: attachments.map((a, i) => ({ id: i + 1, ...a })) } : {}),
      ...(blocks ? { blocks } : {}),
      ...(threadTs ? { thread_ts: threadTs } : {}),
    };
    if (this.echoBotMessages) {
      this.later(0, () => this.emitEvent({ ...message, channel: conv.id, event_ts: ts, channel_type: channelType(conv) }));
    }
    return { channel: conv.id, ts, message };
  }

  /** Where chat.postMessage may post: an id, a channel name (`#x`/`x`), or a user id (the bot's DM). */
  private postTarget(target: string) {
    const user = this.users.get(target);
    if (user) {
      if (user.is_bot) throw new ApiError("channel_not_found");
      return this.openIm(user.id);
    }
    const conv = this.findConversation(target);
    if (!conv) throw new ApiError("channel_not_found");
    if (conv.is_im) return conv;
    const member = conv.members.includes(this.bot.id);
    if (conv.is_private && !member) throw new ApiError("channel_not_found");
    if (conv.is_archived) throw new ApiError("is_archived");
    if (!member) throw new ApiError("not_in_channel");
    return conv;
  }

  private visibleConversation(id: string) {
    const conv = this.channels.get(id);
    if (!conv || (conv.is_private && !conv.members.includes(this.bot.id))) throw new ApiError("channel_not_found");
    return conv;
  }

  private findConversation(idOrName: string) {
    const byId = this.channels.get(idOrName);
    if (byId) return byId;
    const name = idOrName.replace(/^#/, "");
    return [...this.channels.values()].find((c) => !c.is_im && c.name === name);
  }

  private openIm(user: string) {
    const existing = [...this.channels.values()].find((c) => c.is_im && c.user === user);
    if (existing) return existing;
    const im = { id: `D${user.slice(1)}`, name: "", is_im: true, user, members: [user, this.bot.id] };
    this.channels.set(im.id, im);
    return im;
  }

  private page<T>(items: T[], args: Args, kind: string): { page: T[]; next: string } {
    const limit = optInt(args, "limit") ?? 0;
    const size = Math.min(limit > 0 ? limit : this.maxPageSize, this.maxPageSize);
    const cursor = optString(args, "cursor");
    let start = 0;
    if (cursor) {
      const decoded = /^(\w+):(\d+)$/.exec(Buffer.from(cursor, "base64").toString());
      if (!decoded || decoded[1] !== kind) throw new ApiError("invalid_cursor");
      start = Number(decoded[2]);
    }
    const end = start + size;
    const next = end < items.length ? Buffer.from(`${kind}:${end}`).toString("base64") : "";
    return { page: items.slice(start, end), next };
  }

  private userJson(u: SlackUserFixture): Record<string, unknown> {
    const profile: Record<string, unknown> = {
      real_name: u.real_name ?? "",
      real_name_normalized: u.real_name ?? "",
      display_name: u.display_name ?? "",
      display_name_normalized: u.display_name ?? "",
      team: TEAM.id,
    };
    if (u.email) profile.email = u.email;
    if (u.is_bot) profile.bot_id = this.bot.botId;
    return {
      id: u.id, team_id: TEAM.id, name: u.name, deleted: u.deleted ?? false, real_name: u.real_name ?? "",
      tz: "Europe/London", profile, is_admin: false, is_owner: false, is_bot: u.is_bot ?? false, is_app_user: false, updated: 1700000000,
    };
  }

  private channelJson(c: SlackChannelFixture & { is_im?: boolean; user?: string }): Record<string, unknown> {
    if (c.is_im) return { id: c.id, created: 1700000000, is_im: true, is_org_shared: false, user: c.user, is_user_deleted: false, priority: 0 };
    return {
      id: c.id, name: c.name, is_channel: !c.is_private, is_group: false, is_im: false, is_mpim: false, is_private: c.is_private ?? false,
      created: 1700000000, is_archived: c.is_archived ?? false, is_general: c.name === "general", name_normalized: c.name,
      is_member: c.members.includes(this.bot.id), topic: { value: "", creator: "", last_set: 0 }, purpose: { value: "", creator: "", last_set: 0 },
      num_members: c.members.length,
    };
  }

  private nextTs(): string {
    const now = Date.now();
    return `${Math.floor(now / 1000)}.${String(++this.seq % 1_000_000).padStart(6, "0")}`;
  }

  // ---- Socket Mode ----------------------------------------------------------------------------

  private upgrade(req: Request, url: URL, server: Server<SocketData>): Response | undefined {
    const ticket = url.searchParams.get("ticket") ?? "";
    // Slack's links are single-use: a replayed ticket is refused.
    if (!this.tickets.delete(ticket)) return new Response("invalid ticket", { status: 401 });
    if (server.upgrade(req, { data: { id: ++this.seq, ticket, draining: false } })) return undefined;
    return new Response("expected a WebSocket upgrade", { status: 400 });
  }

  private onOpen(ws: Ws): void {
    this.sockets.add(ws);
    this.connectionsOpened++;
    ws.send(JSON.stringify({
      type: "hello",
      num_connections: this.sockets.size,
      debug_info: { host: "applink-emulated", build_number: 1, approximate_connection_time: 18060 },
      connection_info: { app_id: APP_ID },
    }));
    // Events that found no socket wait for the next one, as Slack retries delivery.
    for (const envelope of this.undelivered.splice(0)) this.deliver(envelope);
  }

  private onSocketMessage(_ws: Ws, data: string | Buffer): void {
    let msg: { envelope_id?: unknown };
    try {
      msg = JSON.parse(String(data)) as { envelope_id?: unknown };
    } catch {
      return;
    }
    if (typeof msg.envelope_id !== "string") return;
    const pending = this.pendingAcks.get(msg.envelope_id);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.pendingAcks.delete(msg.envelope_id);
    if (Date.now() - pending.sentAt > this.ackTimeoutMs) this.lateAcks.push(msg.envelope_id);
    this.acks.push(msg.envelope_id);
  }

  /** A socket closed or died: what it had not acked goes out again, as Slack redelivers. */
  private socketGone(ws: Ws): void {
    if (!this.sockets.delete(ws)) return;
    for (const [id, p] of this.pendingAcks) {
      if (p.socket !== ws.data.id) continue;
      clearTimeout(p.timer);
      this.pendingAcks.delete(id);
      this.deliver({ ...p.envelope, retry_attempt: p.envelope.retry_attempt + 1, retry_reason: "timeout" });
    }
  }

  private deliver(envelope: Envelope): void {
    const ws = [...this.sockets].reverse().find((s) => !s.data.draining);
    if (!ws) {
      this.undelivered.push(envelope);
      return;
    }
    this.envelopes.push(envelope);
    ws.send(JSON.stringify(envelope));
    const timer = setTimeout(() => this.ackMissed(envelope), this.ackTimeoutMs);
    this.pendingAcks.set(envelope.envelope_id, { sentAt: Date.now(), timer, envelope, socket: ws.data.id });
  }

  /** No ack in time: Slack redelivers (up to 3 retries) with the reason. */
  private ackMissed(envelope: Envelope): void {
    this.pendingAcks.delete(envelope.envelope_id);
    if (envelope.retry_attempt >= 3) return;
    this.deliver({ ...envelope, retry_attempt: envelope.retry_attempt + 1, retry_reason: "timeout" });
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}

