/**
 * Discord on the wire, for tests: REST v10 (`GET /gateway/bot`, `POST /channels/{id}/messages`,
 * `POST /users/@me/channels`, `GET /channels/{id}`, `GET /users/{id}`) and the gateway
 * WebSocket (HELLO op 10 → IDENTIFY op 2 → READY + GUILD_CREATE dispatches → MESSAGE_CREATE;
 * HEARTBEAT op 1 / HEARTBEAT_ACK op 11; RESUME op 6 → replay + RESUMED; INVALID_SESSION op 9),
 * answering in Discord's shapes: JSON errors `{message, code}`, per-channel message buckets
 * (5 per 5 s) with the `X-RateLimit-*` headers, and a 429 with `Retry-After` and
 * `{message, retry_after, global}`. A send with `enforce_nonce` and a nonce already used by the
 * bot returns the message first posted with it, as Discord does. Loopback only.
 */
import type { Server, ServerWebSocket } from "bun";
import { type Conn, type DiscordEmulatorOptions, type EmuChannel, type EmuMessage, ERR, json, type Session, snowflake } from "./discord-wire.ts";

export type { DiscordEmulatorOptions, EmuMessage } from "./discord-wire.ts";

export class DiscordEmulator {
  readonly bot = { id: snowflake(), username: "st2bot", global_name: null, discriminator: "0000", bot: true };
  readonly guild = { id: snowflake(), name: "st2" };
  readonly users = new Map<string, { id: string; username: string; global_name: string | null; discriminator: string }>();
  readonly channels = new Map<string, EmuChannel>();
  /** Everything the bot posted (and Discord accepted), in order. */
  readonly received: EmuMessage[] = [];
  /** Every POST to /channels/{id}/messages, accepted or not (to count retries). */
  readonly sendAttempts: Array<{ channel: string; nonce?: string; status: number }> = [];
  readonly stats = { identifies: 0, resumes: 0, heartbeats: 0, invalidSessions: 0, gatewayConnections: 0 };
  private readonly sessions = new Map<string, Session>();
  private readonly buckets = new Map<string, { remaining: number; resetAt: number }>();
  private readonly nonces = new Map<string, EmuMessage>();
  private forced429: Array<{ retryAfter: number; global: boolean }> = [];
  private readonly server: Server<Conn>;
  private readonly opts: Required<DiscordEmulatorOptions>;

  constructor(opts: DiscordEmulatorOptions) {
    this.opts = { heartbeatIntervalMs: 41_250, messageContentAllowed: true, bucket: { limit: 5, windowMs: 5000 }, ...opts };
    const self = this;
    this.server = Bun.serve<Conn, never>({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req, server) {
        const url = new URL(req.url);
        if (url.pathname === "/gateway") {
          if (server.upgrade(req, { data: { identified: false } })) return undefined;
          return new Response("upgrade required", { status: 400 });
        }
        return self.rest(req, url);
      },
      websocket: {
        open: (ws) => this.onOpen(ws),
        message: (ws, data) => this.onFrame(ws, String(data)),
        close: (ws) => {
          if (ws.data.session?.socket === ws) ws.data.session.socket = undefined;
        },
      },
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }
  /** What `[discord] api_url` is set to. */
  get apiUrl(): string {
    return `${this.url}/api`;
  }

  /** Adds a person (a member of the one server). */
  addUser(username: string, globalName: string | null = null): { id: string; username: string } {
    const u = { id: snowflake(), username, global_name: globalName, discriminator: "0" };
    this.users.set(u.id, u);
    return u;
  }
  user(username: string) {
    const u = [...this.users.values()].find((x) => x.username === username);
    if (!u) throw new Error(`no user ${username}`);
    return u;
  }
  /** Adds a text channel (type 0), or a public thread (type 11) of `parent`. */
  addChannel(name: string, parent?: string): EmuChannel {
    const c: EmuChannel = { id: snowflake(), type: parent ? 11 : 0, name, guild_id: this.guild.id, ...(parent ? { parent_id: parent } : {}) };
    this.channels.set(c.id, c);
    if (parent) this.dispatchAll("THREAD_CREATE", c);
    return c;
  }
  channel(name: string): EmuChannel {
    const c = [...this.channels.values()].find((x) => x.name === name);
    if (!c) throw new Error(`no channel ${name}`);
    return c;
  }
  /** The DM channel between the bot and `userId` (created on demand, as a person opening a DM does). */
  dmWith(userId: string): EmuChannel {
    const found = [...this.channels.values()].find((c) => c.type === 1 && c.recipients?.includes(userId));
    if (found) return found;
    const c: EmuChannel = { id: snowflake(), type: 1, recipients: [userId] };
    this.channels.set(c.id, c);
    return c;
  }
  /** "#name", "#name/thread" or "@username" (a DM) for a channel id, for assertions. */
  describe(channelId: string): string {
    const c = this.channels.get(channelId);
    if (!c) return `?${channelId}`;
    if (c.type === 1) return `@${this.users.get(c.recipients![0]!)?.username}`;
    if (c.parent_id) return `#${this.channels.get(c.parent_id)?.name}/${c.name}`;
    return `#${c.name}`;
  }

  /** A person posts `content` in channel `channelId` (a DM channel for a direct message). */
  say(username: string, channelId: string, content: string, opts: { mentions?: string[] } = {}): EmuMessage {
    const author = this.user(username);
    const c = this.channels.get(channelId)!;
    const mentions = (opts.mentions ?? [...content.matchAll(/<@!?(\d+)>/g)].map((m) => m[1]!)).map((id) => ({ id, username: id === this.bot.id ? this.bot.username : (this.users.get(id)?.username ?? "?") }));
    const msg: EmuMessage = {
      id: snowflake(),
      channel_id: channelId,
      ...(c.guild_id ? { guild_id: c.guild_id } : {}),
      author,
      content,
      embeds: [],
      type: 0,
      mentions,
      timestamp: new Date().toISOString(),
    };
    this.dispatchAll("MESSAGE_CREATE", this.visible(msg));
    return msg;
  }

  /** The next `n` message posts answer 429 (per-route, or global) with Retry-After `seconds`. */
  inject429(n: number, seconds: number, global = false): void {
    for (let i = 0; i < n; i++) this.forced429.push({ retryAfter: seconds, global });
  }
  /** Closes every gateway socket as a network drop would (the session stays resumable). */
  /** Every REST answer is delayed by `ms` (0 turns it off): a Discord that stalls. */
  slow(ms: number): void {
    this.delayMs = ms;
  }

  private delayMs = 0;

  dropGateway(): void {
    for (const s of this.sessions.values()) s.socket?.close(4000, "dropped by the emulator");
  }
  /** Sends INVALID_SESSION (d: false) on every socket: the session is gone, IDENTIFY again. */
  invalidateSessions(): void {
    for (const s of [...this.sessions.values()]) {
      this.sessions.delete(s.id);
      this.stats.invalidSessions++;
      s.socket?.send(JSON.stringify({ op: 9, d: false, s: null, t: null }));
    }
  }
  /** Sessions the bot holds open now. */
  get openSockets(): number {
    return [...this.sessions.values()].filter((s) => s.socket).length;
  }
  async stop(): Promise<void> {
    this.server.stop(true);
  }

  // ---- gateway ----

  private onOpen(ws: ServerWebSocket<Conn>): void {
    this.stats.gatewayConnections++;
    ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: this.opts.heartbeatIntervalMs }, s: null, t: null }));
  }

  private onFrame(ws: ServerWebSocket<Conn>, raw: string): void {
    let frame: { op: number; d: any };
    try {
      frame = JSON.parse(raw);
    } catch {
      return ws.close(4002, "Error while decoding payload.");
    }
    switch (frame.op) {
      case 1:
        this.stats.heartbeats++;
        ws.send(JSON.stringify({ op: 11, d: null, s: null, t: null }));
        return;
      case 2:
        return this.identify(ws, frame.d);
      case 6:
        return this.resume(ws, frame.d);
      default:
        if (!ws.data.identified) return ws.close(4003, "Not authenticated.");
        return ws.close(4001, "Unknown opcode.");
    }
  }

  private identify(ws: ServerWebSocket<Conn>, d: { token?: string; intents?: number }): void {
    if (ws.data.identified) return ws.close(4005, "Already authenticated.");
    if (d.token !== this.opts.token) return ws.close(4004, "Authentication failed.");
    if (typeof d.intents !== "number") return ws.close(4013, "Invalid intent(s).");
    if (d.intents & (1 << 15) && !this.opts.messageContentAllowed) return ws.close(4014, "Disallowed intent(s).");
    this.stats.identifies++;
    const session: Session = { id: crypto.randomUUID().replaceAll("-", ""), seq: 0, events: [], socket: ws };
    this.sessions.set(session.id, session);
    ws.data.identified = true;
    ws.data.session = session;
    this.dispatch(session, "READY", {
      v: 10,
      user: this.bot,
      guilds: [{ id: this.guild.id, unavailable: true }],
      session_id: session.id,
      resume_gateway_url: `ws://127.0.0.1:${this.server.port}/gateway`,
      shard: [0, 1],
      application: { id: this.bot.id, flags: 0 },
    });
    const inGuild = [...this.channels.values()].filter((c) => c.guild_id === this.guild.id);
    this.dispatch(session, "GUILD_CREATE", {
      id: this.guild.id,
      name: this.guild.name,
      unavailable: false,
      channels: inGuild.filter((c) => c.type !== 11),
      threads: inGuild.filter((c) => c.type === 11),
    });
  }

  private resume(ws: ServerWebSocket<Conn>, d: { token?: string; session_id?: string; seq?: number }): void {
    if (d.token !== this.opts.token) return ws.close(4004, "Authentication failed.");
    const session = d.session_id ? this.sessions.get(d.session_id) : undefined;
    if (!session) {
      this.stats.invalidSessions++;
      ws.send(JSON.stringify({ op: 9, d: false, s: null, t: null }));
      return;
    }
    this.stats.resumes++;
    session.socket?.close(4000, "resumed elsewhere");
    session.socket = ws;
    ws.data.identified = true;
    ws.data.session = session;
    for (const e of session.events) if (e.s > (d.seq ?? 0)) ws.send(JSON.stringify({ op: 0, ...e }));
    this.dispatch(session, "RESUMED", null);
  }

  private dispatch(session: Session, t: string, d: unknown): void {
    const e = { s: ++session.seq, t, d };
    session.events.push(e);
    session.socket?.send(JSON.stringify({ op: 0, ...e }));
  }

  private dispatchAll(t: string, d: unknown): void {
    for (const s of this.sessions.values()) this.dispatch(s, t, d);
  }

  /** Without the Message Content intent, Discord blanks guild messages that do not mention the bot. */
  private visible(msg: EmuMessage): EmuMessage {
    if (this.opts.messageContentAllowed || !msg.guild_id || msg.mentions.some((m) => m.id === this.bot.id)) return msg;
    return { ...msg, content: "" };
  }

  // ---- REST ----

  private async rest(req: Request, url: URL): Promise<Response> {
    const path = url.pathname.replace(/^\/api\/v10/, "");
    if (this.delayMs) await Bun.sleep(this.delayMs);
    if (req.headers.get("authorization") !== `Bot ${this.opts.token}`) return json(ERR.unauthorized.body, 401);
    const route = `${req.method} ${path}`;
    if (route === "GET /gateway/bot") {
      return json({ url: `ws://127.0.0.1:${this.server.port}/gateway`, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 86_400_000, max_concurrency: 1 } });
    }
    if (route === "GET /users/@me") return json(this.bot);
    let m: RegExpExecArray | null;
    if ((m = /^GET \/guilds\/(\d+)$/.exec(route))) {
      return m[1] === this.guild.id ? json({ ...this.guild, owner_id: this.bot.id, features: [] }) : json(ERR.unknownGuild.body, 404);
    }
    if ((m = /^POST \/channels\/(\d+)\/messages$/.exec(route))) return this.createMessage(m[1]!, await req.json().catch(() => ({})));
    if (route === "POST /users/@me/channels") {
      const body = (await req.json().catch(() => ({}))) as { recipient_id?: string };
      if (!body.recipient_id || !this.users.has(body.recipient_id)) return json({ message: "Invalid Form Body", code: 50035, errors: { recipient_id: { _errors: [{ code: "NUMBER_TYPE_COERCE", message: "Value is not snowflake." }] } } }, 400);
      const c = this.dmWith(body.recipient_id);
      return json({ id: c.id, type: 1, last_message_id: null, flags: 0, recipients: [this.users.get(body.recipient_id)] });
    }
    if ((m = /^GET \/channels\/(\d+)$/.exec(route))) {
      const c = this.channels.get(m[1]!);
      return c ? json(c) : json(ERR.unknownChannel.body, 404);
    }
    if ((m = /^GET \/users\/(\d+)$/.exec(route))) {
      const u = this.users.get(m[1]!);
      return u ? json(u) : json(ERR.unknownUser.body, 404);
    }
    return json(ERR.notFound.body, 404);
  }

  private createMessage(channelId: string, body: Record<string, any>): Response {
    const c = this.channels.get(channelId);
    const bucket = this.bucketFor(channelId);
    const forced = this.forced429.shift();
    const now = Date.now();
    if (forced || bucket.remaining <= 0) {
      const retryAfter = forced ? forced.retryAfter : Math.max(0.001, (bucket.resetAt - now) / 1000);
      this.sendAttempts.push({ channel: channelId, nonce: body.nonce, status: 429 });
      const headers: Record<string, string> = { "Retry-After": String(Math.ceil(retryAfter)), "X-RateLimit-Scope": forced?.global ? "global" : "user" };
      if (forced?.global) headers["X-RateLimit-Global"] = "true";
      else Object.assign(headers, this.bucketHeaders(channelId, { remaining: 0, resetAt: now + retryAfter * 1000 }));
      return json({ message: "You are being rate limited.", retry_after: retryAfter, global: Boolean(forced?.global) }, 429, headers);
    }
    if (!c) return json(ERR.unknownChannel.body, 404);
    const content = typeof body.content === "string" ? body.content : "";
    const embeds = Array.isArray(body.embeds) ? body.embeds : [];
    if (!content && embeds.length === 0) return json(ERR.empty.body, 400);
    if (content.length > 2000) return json({ message: "Invalid Form Body", code: 50035, errors: { content: { _errors: [{ code: "BASE_TYPE_MAX_LENGTH", message: "Must be 2000 or fewer in length." }] } } }, 400);
    if (body.nonce !== undefined && (typeof body.nonce !== "string" || body.nonce.length > 25)) return json({ message: "Invalid Form Body", code: 50035, errors: { nonce: { _errors: [{ code: "BASE_TYPE_MAX_LENGTH", message: "Must be 25 or fewer in length." }] } } }, 400);
    bucket.remaining--;
    this.sendAttempts.push({ channel: channelId, nonce: body.nonce, status: 200 });
    const headers = this.bucketHeaders(channelId, bucket);
    const prior = body.enforce_nonce && body.nonce ? this.nonces.get(body.nonce) : undefined;
    if (prior) return json(prior, 200, headers);
    const msg: EmuMessage = {
      id: snowflake(),
      channel_id: channelId,
      ...(c.guild_id ? { guild_id: c.guild_id } : {}),
      author: this.bot,
      content,
      embeds,
      ...(body.nonce ? { nonce: body.nonce } : {}),
      ...(body.allowed_mentions ? { allowed_mentions: body.allowed_mentions } : {}),
      ...(body.message_reference ? { message_reference: body.message_reference } : {}),
      type: body.message_reference ? 19 : 0,
      mentions: [],
      timestamp: new Date().toISOString(),
    };
    if (body.enforce_nonce && body.nonce) this.nonces.set(body.nonce, msg);
    this.received.push(msg);
    this.dispatchAll("MESSAGE_CREATE", msg); // Discord echoes the bot's own messages
    return json(msg, 200, headers);
  }

  private bucketFor(channelId: string) {
    const now = Date.now();
    let b = this.buckets.get(channelId);
    if (!b || b.resetAt <= now) {
      b = { remaining: this.opts.bucket.limit, resetAt: now + this.opts.bucket.windowMs };
      this.buckets.set(channelId, b);
    }
    return b;
  }

  private bucketHeaders(_channelId: string, b: { remaining: number; resetAt: number }): Record<string, string> {
    const after = Math.max(0, (b.resetAt - Date.now()) / 1000);
    return {
      "X-RateLimit-Limit": String(this.opts.bucket.limit),
      "X-RateLimit-Remaining": String(Math.max(0, b.remaining)),
      "X-RateLimit-Reset": (b.resetAt / 1000).toFixed(3),
      "X-RateLimit-Reset-After": after.toFixed(3),
      // One hash for the route; the channel id (the major parameter) makes each channel its own bucket.
      "X-RateLimit-Bucket": "5e9c2a7f3b1d4c80a6e2f1d9b7c3a5e1",
    };
  }
}

/** Starts an emulator on a free loopback port. */
export function startDiscordEmulator(opts: DiscordEmulatorOptions): DiscordEmulator {
  return new DiscordEmulator(opts);
}
