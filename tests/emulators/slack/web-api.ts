/**
 * The Slack emulator's Web API: `POST <apiUrl><method>` with a form-encoded, JSON or query body,
 * the token from `Authorization: Bearer` or a `token` argument, answered HTTP 200 `{ok:true,...}`
 * or `{ok:false,error}` with Slack's error codes, or 429 with `Retry-After` when a rate limit is
 * injected. The methods st2bot calls: auth.test, apps.connections.open, users.list/info,
 * conversations.list/info/open, chat.postMessage/update/postEphemeral.
 */
import { type Answer, type ApiCall, ApiError, APP_ID, type Args, channelType, checkBlock, type EphemeralMessage, jsonArray, optBool, optString, parseBody, type PostedMessage, redactToken, requireString, TEAM, tokenOf } from "./wire.ts";
import type { Workspace } from "./workspace.ts";

/** What the Web API needs from the rest of the emulator. */
export interface WebApiLinks {
  botToken: string;
  appToken: string;
  /** A one-time Socket Mode URL (socket-mode.ts). */
  ticket(): string;
  /** Emits an Events API event (Slack echoes the bot's own posts and edits). */
  emit(event: Record<string, unknown>): void;
  /** Runs `fn` after `ms`, cancelled when the emulator stops. */
  later(ms: number, fn: () => void): void;
}

/** The Web API of one emulated workspace, and what it accepted. */
export class WebApi {
  /** Every chat.postMessage the workspace accepted, in order. */
  readonly received: PostedMessage[] = [];
  /** Every chat.postEphemeral the workspace accepted, in order. */
  readonly ephemerals: EphemeralMessage[] = [];
  /** Every chat.update the workspace accepted, in order (the message as it became). */
  readonly edits: PostedMessage[] = [];
  /** Every Web API call, answered or refused. */
  readonly calls: ApiCall[] = [];
  /** Per method: how many more calls answer 429, and the Retry-After they carry. */
  readonly rateLimits = new Map<string, { count: number; retryAfterSec: number }>();
  /** Every answer waits this long first (0: none). */
  delayMs = 0;
  private readonly echoBotMessages: boolean;
  private readonly missingScopes: Set<string>;

  constructor(
    private readonly ws: Workspace,
    private readonly links: WebApiLinks,
    opts: { echoBotMessages: boolean; missingScopes: string[] },
  ) {
    this.echoBotMessages = opts.echoBotMessages;
    this.missingScopes = new Set(opts.missingScopes);
  }

  /** Answers one `/api/<method>` request. */
  async handle(req: Request, url: URL, method: string): Promise<Response> {
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
    const kind = token === this.links.appToken ? "app" : token === this.links.botToken ? "bot" : undefined;
    if (!kind) throw new ApiError("invalid_auth");
    if ((method === "apps.connections.open") !== (kind === "app")) throw new ApiError("not_allowed_token_type");
    return { body: { ok: true, ...handler(args) } };
  }

  private readonly methods: Record<string, (args: Args) => Record<string, unknown>> = {
    "auth.test": () => ({
      url: `https://${TEAM.domain}.slack.com/`,
      team: TEAM.name,
      user: this.ws.bot.name,
      team_id: TEAM.id,
      user_id: this.ws.bot.id,
      bot_id: this.ws.bot.botId,
      is_enterprise_install: false,
    }),
    "apps.connections.open": () => ({ url: this.links.ticket() }),
    "users.list": (args) => {
      this.needScope("users:read");
      const members = [...this.ws.users.values()].map((u) => this.ws.userJson(u));
      const { page, next } = this.ws.page(members, args, "users");
      return { members: page, cache_ts: Math.floor(Date.now() / 1000), response_metadata: { next_cursor: next } };
    },
    "users.info": (args) => {
      this.needScope("users:read");
      const id = optString(args, "user");
      const user = id === undefined ? undefined : this.ws.users.get(id);
      if (!user) throw new ApiError("user_not_found");
      return { user: this.ws.userJson(user) };
    },
    "conversations.list": (args) => {
      const types = (optString(args, "types") ?? "public_channel").split(",").map((t) => t.trim());
      const scopeOf: Record<string, string> = { public_channel: "channels:read", private_channel: "groups:read", mpim: "mpim:read", im: "im:read" };
      for (const t of types) this.needScope(scopeOf[t] ?? "channels:read");
      const excludeArchived = optBool(args, "exclude_archived");
      const visible = [...this.ws.channels.values()].filter((c) => {
        if (excludeArchived && c.is_archived) return false;
        if (c.is_im) return types.includes("im") && c.user !== undefined;
        if (c.is_private) return types.includes("private_channel") && c.members.includes(this.ws.bot.id);
        return types.includes("public_channel");
      });
      const { page, next } = this.ws.page(visible.map((c) => this.ws.channelJson(c)), args, "channels");
      return { channels: page, response_metadata: { next_cursor: next } };
    },
    "conversations.info": (args) => {
      const conv = this.ws.visibleConversation(requireString(args, "channel", "channel_not_found"));
      return { channel: this.ws.channelJson(conv) };
    },
    "conversations.open": (args) => {
      const users = optString(args, "users");
      const channel = optString(args, "channel");
      if (channel !== undefined) return { channel: this.ws.channelJson(this.ws.visibleConversation(channel)) };
      if (users === undefined || users === "") throw new ApiError("users_list_not_supplied");
      const ids = users.split(",").map((u) => u.trim());
      if (ids.length !== 1) throw new ApiError("not_implemented_in_emulator");
      const user = this.ws.users.get(ids[0]!);
      if (!user || user.deleted) throw new ApiError("user_not_found");
      if (user.is_bot) throw new ApiError("cannot_dm_bot");
      const existed = [...this.ws.channels.values()].some((c) => c.is_im && c.user === user.id);
      const im = this.ws.openIm(user.id);
      return { no_op: existed, already_open: existed, channel: { id: im.id } };
    },
    "chat.postMessage": (args) => this.postMessage(args),
    "chat.update": (args) => this.updateMessage(args),
    "chat.postEphemeral": (args) => {
      const channel = requireString(args, "channel", "channel_not_found");
      const user = requireString(args, "user", "user_not_found");
      const text = requireString(args, "text", "no_text");
      const conv = this.ws.visibleConversation(channel);
      if (!conv.is_im && !conv.members.includes(user)) throw new ApiError("user_not_in_channel");
      const threadTs = optString(args, "thread_ts");
      this.ephemerals.push({ channel: conv.id, user, text, ...(threadTs ? { thread_ts: threadTs } : {}) });
      return { message_ts: this.ws.nextTs() };
    },
  };

  /** `chat.update`: only the bot's own message, in the channel (an id) it was posted to. */
  private updateMessage(args: Args): Record<string, unknown> {
    const channel = requireString(args, "channel", "channel_not_found");
    const ts = requireString(args, "ts", "message_not_found");
    if (!this.ws.channels.has(channel)) throw new ApiError("channel_not_found");
    const index = this.received.findIndex((m) => m.channel === channel && m.ts === ts);
    if (index < 0) {
      if (this.ws.userMessages.has(`${channel}:${ts}`)) throw new ApiError("cant_update_message");
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
    const bot = this.ws.bot;
    const message = { type: "message", user: bot.id, bot_id: bot.botId, text: text ?? "", ts, blocks, edited: { user: bot.id, ts: this.ws.nextTs() } };
    if (this.echoBotMessages) {
      const conv = this.ws.channels.get(channel)!;
      this.links.later(0, () => this.links.emit({ type: "message", subtype: "message_changed", hidden: true, channel, ts: this.ws.nextTs(), message, event_ts: ts, channel_type: channelType(conv) }));
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
    const conv = this.ws.postTarget(target);
    const text = optString(args, "text");
    const attachments = jsonArray(args, "attachments", "invalid_attachments");
    const blocks = jsonArray(args, "blocks", "invalid_blocks");
    const threadTs = optString(args, "thread_ts");
    if (!text && !attachments?.length && !blocks?.length) throw new ApiError("no_text");
    if (text && text.length > 40_000) throw new ApiError("msg_too_long");
    if (attachments && attachments.length > 100) throw new ApiError("too_many_attachments");
    if (blocks && blocks.length > 50) throw new ApiError("invalid_blocks", { errors: ["no more than 50 items allowed [json-pointer:/blocks]"] });
    blocks?.forEach(checkBlock);
    const ts = this.ws.nextTs();
    const posted: PostedMessage = { channel: conv.id, ts, args };
    if (threadTs !== undefined) posted.thread_ts = threadTs;
    if (text !== undefined) posted.text = text;
    if (attachments) posted.attachments = attachments;
    if (blocks) posted.blocks = blocks;
    this.received.push(posted);
    const bot = this.ws.bot;
    const message: Record<string, unknown> = {
      type: "message", user: bot.id, bot_id: bot.botId, app_id: APP_ID, text: text ?? "", ts, team: TEAM.id,
      ...(attachments ? { attachments: attachments.map((a, i) => ({ id: i + 1, ...a })) } : {}),
      ...(blocks ? { blocks } : {}),
      ...(threadTs ? { thread_ts: threadTs } : {}),
    };
    if (this.echoBotMessages) {
      this.links.later(0, () => this.links.emit({ ...message, channel: conv.id, event_ts: ts, channel_type: channelType(conv) }));
    }
    return { channel: conv.id, ts, message };
  }
}
