/**
 * A Rocket.Chat server on the wire, for tests: the REST endpoints st2bot's client calls
 * (`/api/v1/login`, `logout`, `me`, `users.info`, `rooms.info`, `im.create`, `chat.sendMessage`,
 * `chat.postMessage`, `chat.getMessage`) and the realtime API (DDP over a WebSocket at
 * `/websocket`: `server_id`, connect/connected, login with a resume token, sub/ready to
 * `stream-room-messages` `__my_messages__`, `changed` frames, ping/pong both ways). Shapes
 * follow the server's source: `{success:false, error, errorType}` refusals, the 401 body of
 * an unauthenticated call, the REST rate limiter's 429 with `X-RateLimit-*` headers (the reset
 * an epoch in milliseconds) and its "[error-too-many-requests]" text, EJSON `{$date}` in DDP.
 * A repeated message `_id` is stored once, answered as the server does: current servers fail
 * the call (sendMessage returns nothing and the REST layer trips over it), older ones answer
 * `{success:true}` without a message. `chat.update` edits a message as the server does (its
 * author only, in the room named, within `Message_MaxAllowedSize`), sets `editedAt`/`editedBy`,
 * streams the changed message and records it in `edits`.
 */
import type { Server, ServerWebSocket } from "bun";
import { ddpMessage, type EmuMessage, type EmuRoom, type EmuUser, failure, json, publicUser, randomId, restMessage, type RocketChatEmulatorOptions, ROOM_NOT_FOUND, type SocketData } from "./rocketchat-wire.ts";

export type { EmuMessage, EmuRoom, EmuUser, RcRoomFixture, RcUserFixture, RocketChatEmulatorOptions } from "./rocketchat-wire.ts";
export { randomId } from "./rocketchat-wire.ts";

export class RocketChatEmulator {
  readonly users = new Map<string, EmuUser>();
  readonly rooms = new Map<string, EmuRoom>();
  readonly messages = new Map<string, EmuMessage>();
  /** Messages created through REST, in order (each `_id` once). */
  readonly received: EmuMessage[] = [];
  /** Every chat.update accepted, in order: the message as it became, and when. */
  readonly edits: { message: EmuMessage; at: number }[] = [];
  /** Every REST request, `METHOD /api/v1/name`. */
  readonly requests: string[] = [];
  /** `pong`s received in answer to the server's pings. */
  pongs = 0;
  /** The realtime login refuses every resume token (REST still accepts them): a revoked session. */
  refuseResume = false;
  /** The next `n` realtime logins meet Meteor's method rate limiter (`too-many-requests`). */
  private limitedLogins: number[] = [];
  /** Login tokens (from `/api/v1/login`) → user id. */
  readonly sessions = new Map<string, string>();
  private readonly sockets = new Set<ServerWebSocket<SocketData>>();
  private pending429: number[] = [];
  private lostReplies = 0;
  private pinger?: ReturnType<typeof setInterval>;
  private server!: Server<SocketData>;

  constructor(private readonly opts: RocketChatEmulatorOptions) {
    for (const u of opts.users) {
      const id = u.id ?? randomId();
      this.users.set(id, { _id: id, username: u.username, name: u.name ?? u.username, ...(u.password ? { password: u.password } : {}), ...(u.token ? { token: u.token } : {}) });
    }
    for (const r of opts.rooms) {
      const id = r.id ?? randomId();
      this.rooms.set(id, { _id: id, t: r.t ?? "c", name: r.name, members: new Set(r.members.map((n) => this.user(n)._id)) });
    }
  }

  start(): this {
    this.server = Bun.serve<SocketData>({
      hostname: "127.0.0.1",
      port: this.opts.port ?? 0,
      fetch: (req, server) => this.handle(req, server),
      websocket: {
        open: (ws) => {
          this.sockets.add(ws);
          ws.send(JSON.stringify({ server_id: "0" }));
        },
        message: (ws, raw) => this.onFrame(ws, String(raw)),
        close: (ws) => void this.sockets.delete(ws),
      },
    });
    if (this.opts.serverPingMs) this.pinger = setInterval(() => this.broadcastFrame({ msg: "ping" }, () => true), this.opts.serverPingMs);
    return this;
  }

  /** The server root, as configured in `rocketchat.url`. */
  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  user(nameOrId: string): EmuUser {
    const key = nameOrId.replace(/^@/, "");
    const u = this.users.get(key) ?? [...this.users.values()].find((x) => x.username === key);
    if (!u) throw new Error(`emulator: no user ${nameOrId}`);
    return u;
  }

  /** `#name`, a room id, or `@user` for that user's direct room with `other`. */
  room(ref: string, other = "st2bot"): EmuRoom {
    if (ref.startsWith("@")) return this.directRoom(ref.slice(1), other);
    const r = this.rooms.get(ref) ?? [...this.rooms.values()].find((x) => x.name === ref.replace(/^#/, ""));
    if (!r) throw new Error(`emulator: no room ${ref}`);
    return r;
  }

  /** The direct room of two users, created as `im.create` does (id: both user ids, sorted). */
  directRoom(a: string, b: string): EmuRoom {
    const ids = [this.user(a)._id, this.user(b)._id].sort();
    const id = ids.join("");
    const existing = this.rooms.get(id);
    if (existing) return existing;
    const room: EmuRoom = { _id: id, t: "d", members: new Set(ids) };
    this.rooms.set(id, room);
    return room;
  }

  /** `#name` for channels and groups, `@other` for a direct room as `viewer` sees it. */
  describeRoom(rid: string, viewer = "st2bot"): string {
    const r = this.rooms.get(rid);
    if (!r) return rid;
    if (r.t !== "d") return `#${r.name}`;
    const me = this.user(viewer)._id;
    const other = [...r.members].find((m) => m !== me) ?? me;
    return `@${this.users.get(other)!.username}`;
  }

  /** A person writes `text` in `room` (`#name`, an id, or `@st2bot` for their DM with the bot). */
  userSays(p: { user: string; room: string; text: string; tmid?: string; t?: string }): EmuMessage {
    const u = this.user(p.user);
    const room = p.room.startsWith("@") ? this.directRoom(p.user, p.room.slice(1)) : this.room(p.room);
    return this.store({ _id: randomId(), rid: room._id, msg: p.text, u, ...(p.tmid ? { tmid: p.tmid } : {}), ...(p.t ? { t: p.t } : {}) });
  }

  /** The message is sent again as edited (the stream repeats it with `editedAt`). */
  edit(id: string, text: string): void {
    const m = this.messages.get(id)!;
    Object.assign(m, { msg: text, editedAt: Date.now() });
    this.stream(m);
  }

  /** The next `n` REST calls meet the rate limiter: 429 until `resetMs` from now. */
  inject429(n: number, resetMs: number): void {
    this.pending429.push(...Array.from({ length: n }, () => resetMs));
  }

  /** The next `n` sends are stored and streamed, but their answers are lost (a proxy's 504). */
  loseReplies(n: number): void {
    this.lostReplies = n;
  }

  /** The next `n` realtime logins are refused by the DDP rate limiter for `resetMs`. */
  limitLogins(n: number, resetMs: number): void {
    this.limitedLogins.push(...Array.from({ length: n }, () => resetMs));
  }

  /** Closes every realtime socket abruptly, as a network drop or server restart would. */
  /** Every REST answer is delayed by `ms` (0 turns it off): a server that stalls. */
  slow(ms: number): void {
    this.delayMs = ms;
  }

  private delayMs = 0;

  dropSockets(): void {
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
  }

  /** Every open socket stops answering (a half-open TCP connection: nothing arrives, nothing closes). */
  silenceSockets(): void {
    for (const ws of this.sockets) ws.data.silent = true;
  }

  /** How many logged-in sockets are subscribed to the message stream. */
  get subscribedSockets(): number {
    return [...this.sockets].filter((s) => s.data.userId && s.data.subs.size > 0 && !s.data.silent).length;
  }

  async stop(): Promise<void> {
    clearInterval(this.pinger);
    this.dropSockets();
    await this.server.stop(true);
  }

  // ---- REST ----

  private async handle(req: Request, server: Server<SocketData>): Promise<Response | undefined> {
    const url = new URL(req.url);
    if (url.pathname === "/websocket") {
      return server.upgrade(req, { data: { subs: new Set(), silent: false } }) ? undefined : new Response("upgrade failed", { status: 400 });
    }
    const name = url.pathname.replace(/^\/api\/v1\//, "");
    this.requests.push(`${req.method} /api/v1/${name}`);
    if (this.delayMs) await Bun.sleep(this.delayMs);
    const limited = this.pending429.shift();
    if (limited !== undefined) return this.tooMany(limited);
    if (req.method === "POST" && name === "login") return this.login(req);
    const uid = this.authenticate(req);
    if (!uid) return json({ status: "error", message: "You must be logged in to do this." }, 401);
    const me = this.users.get(uid)!;
    const q = url.searchParams;
    const body = req.method === "POST" ? ((await req.json().catch(() => ({}))) as Record<string, unknown>) : {};
    switch (`${req.method} ${name}`) {
      case "GET me":
        return json({ ...publicUser(me), success: true });
      case "POST logout": // ends a login token; a personal access token is not a session and stays
        this.sessions.delete(req.headers.get("x-auth-token") ?? "");
        return json({ status: "success", data: { message: "You've been logged out!" } });
      case "GET users.info": {
        const u = [...this.users.values()].find((x) => x._id === q.get("userId") || x.username === q.get("username"));
        return u ? json({ user: publicUser(u), success: true }) : failure("User not found.");
      }
      case "GET rooms.info":
        return this.roomsInfo(q, uid);
      case "POST im.create": {
        const other = [...this.users.values()].find((x) => x.username === body.username);
        if (!other) return failure("error-invalid-user [error-invalid-user]", "error-invalid-user");
        const r = this.directRoom(me.username, other.username);
        return json({ room: { _id: r._id, rid: r._id, t: "d", usernames: [...r.members].map((m) => this.users.get(m)!.username).sort() }, success: true });
      }
      case "POST chat.sendMessage":
        return this.sendMessage(body.message as Record<string, unknown> | undefined, me);
      case "POST chat.postMessage":
        return this.postMessage(body, me);
      case "POST chat.update":
        return this.updateMessage(body, me);
      case "GET chat.getMessage": {
        const m = this.messages.get(q.get("msgId") ?? "");
        return m && this.canAccess(this.rooms.get(m.rid)!, uid) ? json({ message: restMessage(m), success: true }) : failure("error-not-allowed");
      }
    }
    return json({ success: false, error: "Resource not found" }, 404);
  }

  private tooMany(resetMs: number): Response {
    const secs = Math.ceil(resetMs / 1000);
    return json(
      { success: false, error: `Error, too many requests. Please slow down. You must wait ${secs} seconds before trying this endpoint again. [error-too-many-requests]` },
      429,
      { "X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": String(Date.now() + resetMs) },
    );
  }

  private async login(req: Request): Promise<Response> {
    const body = (await req.json().catch(() => ({}))) as { user?: string; username?: string; password?: string };
    const name = body.user ?? body.username;
    const u = [...this.users.values()].find((x) => x.username === name);
    if (!u || !u.password || u.password !== body.password) return json({ status: "error", error: "Unauthorized", message: "Unauthorized" }, 401);
    const token = randomId() + randomId();
    this.sessions.set(token, u._id);
    return json({ status: "success", data: { userId: u._id, authToken: token, me: publicUser(u) } });
  }

  private authenticate(req: Request): string | undefined {
    const uid = req.headers.get("x-user-id") ?? "";
    const token = req.headers.get("x-auth-token") ?? "";
    return this.userForToken(token) === uid && uid ? uid : undefined;
  }

  private userForToken(token: string): string | undefined {
    if (!token) return undefined;
    return this.sessions.get(token) ?? [...this.users.values()].find((u) => u.token === token)?._id;
  }

  private roomsInfo(q: URLSearchParams, uid: string): Response {
    const id = q.get("roomId");
    const name = q.get("roomName");
    const room = id ? this.rooms.get(id) : [...this.rooms.values()].find((r) => r.name !== undefined && r.name === name);
    if (!room) return ROOM_NOT_FOUND();
    if (!this.canAccess(room, uid)) return failure("not-allowed", "Not Allowed");
    return json({ room: { _id: room._id, t: room.t, ...(room.name ? { name: room.name, fname: room.name } : {}), usersCount: room.members.size }, success: true });
  }

  /** Public channels are readable by everyone; groups and direct rooms by members only. */
  private canAccess(room: EmuRoom, uid: string): boolean {
    return room.t === "c" || room.members.has(uid);
  }

  private sendMessage(m: Record<string, unknown> | undefined, me: EmuUser): Response {
    if (!m || typeof m.rid !== "string") return failure("must have required property 'rid'", "invalid-params");
    const room = this.rooms.get(m.rid);
    // canSendMessage: a missing room, then canAccessRoom (public channels need no membership).
    if (!room) return failure("error-invalid-room");
    if (!this.canAccess(room, me._id)) return failure("error-not-allowed");
    if (typeof m.msg === "string" && m.msg.length > (this.opts.maxAllowedSize ?? 5000)) return failure("error-message-size-exceeded");
    if (typeof m._id === "string" && this.messages.has(m._id)) {
      return this.opts.duplicateIdReply === "empty" ? json({ success: true }) : failure("Cannot read properties of undefined (reading 'starred')");
    }
    const id = typeof m._id === "string" ? m._id : randomId();
    const stored = this.store({ _id: id, rid: room._id, msg: String(m.msg ?? ""), u: me, ...(typeof m.tmid === "string" ? { tmid: m.tmid } : {}), ...(Array.isArray(m.attachments) ? { attachments: m.attachments } : {}) });
    this.received.push(stored);
    return this.reply(json({ message: restMessage(stored), success: true }));
  }

  private postMessage(b: Record<string, unknown>, me: EmuUser): Response {
    const room = typeof b.roomId === "string" ? this.rooms.get(b.roomId) : undefined;
    if (!room) return failure("invalid-channel");
    if (!this.canAccess(room, me._id)) return failure("error-not-allowed");
    if (typeof b.text === "string" && b.text.length > (this.opts.maxAllowedSize ?? 5000)) return failure("error-message-size-exceeded");
    const stored = this.store({ _id: randomId(), rid: room._id, msg: String(b.text ?? ""), u: me, ...(typeof b.tmid === "string" ? { tmid: b.tmid } : {}), ...(Array.isArray(b.attachments) ? { attachments: b.attachments } : {}) });
    this.received.push(stored);
    return this.reply(json({ ts: Date.now(), channel: room.name ?? room._id, message: restMessage(stored), success: true }));
  }

  /** `chat.update` (API v1): roomId, msgId and text required; only the author may edit (no edit-message permission here). */
  private updateMessage(b: Record<string, unknown>, me: EmuUser): Response {
    if (typeof b.roomId !== "string" || typeof b.msgId !== "string" || typeof b.text !== "string") {
      return failure("must have required property 'roomId'", "invalid-params");
    }
    const m = this.messages.get(b.msgId);
    if (!m) return failure(`No message found with the id of "${b.msgId}".`);
    if (m.rid !== b.roomId) return failure("The room id provided does not match where the message is from.");
    if (m.u._id !== me._id) return failure("Message editing not allowed [error-action-not-allowed]", "error-action-not-allowed");
    if (b.text.length > (this.opts.maxAllowedSize ?? 5000)) return failure("error-message-size-exceeded");
    m.msg = b.text;
    m.editedAt = Date.now();
    this.edits.push({ message: { ...m }, at: m.editedAt });
    this.stream(m);
    return this.reply(json({ message: { ...restMessage(m), editedBy: { _id: me._id, username: me.username } }, success: true }));
  }

  private reply(res: Response): Response {
    if (this.lostReplies <= 0) return res;
    this.lostReplies--;
    return new Response("<html><body>504 Gateway Time-out</body></html>", { status: 504, headers: { "Content-Type": "text/html" } });
  }

  private store(m: Omit<EmuMessage, "ts" | "mentions" | "u"> & { u: EmuUser }): EmuMessage {
    const mentions = [...m.msg.matchAll(/(?:^|\s)@([\w.-]+)/g)].flatMap(([, name]) => {
      const u = [...this.users.values()].find((x) => x.username === name);
      return u ? [{ _id: u._id, username: u.username, name: u.name, type: "user" as const }] : [];
    });
    const msg: EmuMessage = { ...m, ts: Date.now(), u: { _id: m.u._id, username: m.u.username, name: m.u.name }, mentions };
    this.messages.set(msg._id, msg);
    this.stream(msg);
    return msg;
  }

  // ---- realtime (DDP) ----

  /** `__my_messages__`: every subscriber who may read the room, with what the server adds about it. */
  private stream(m: EmuMessage): void {
    const room = this.rooms.get(m.rid)!;
    this.broadcastFrame(
      (uid) => ({
        msg: "changed",
        collection: "stream-room-messages",
        id: "id",
        fields: { eventName: "__my_messages__", args: [ddpMessage(m), { roomParticipant: room.members.has(uid), roomType: room.t, ...(room.name ? { roomName: room.name } : {}) }] },
      }),
      (uid) => this.canAccess(room, uid),
    );
  }

  private broadcastFrame(frame: Record<string, unknown> | ((uid: string) => Record<string, unknown>), to: (uid: string) => boolean): void {
    for (const ws of this.sockets) {
      const { userId, subs, silent } = ws.data;
      if (silent || !userId || (typeof frame === "function" && subs.size === 0) || !to(userId)) continue;
      ws.send(JSON.stringify(typeof frame === "function" ? frame(userId) : frame));
    }
  }

  private onFrame(ws: ServerWebSocket<SocketData>, raw: string): void {
    if (ws.data.silent) return;
    let f: { msg?: string; id?: string; method?: string; name?: string; params?: unknown[] };
    try {
      f = JSON.parse(raw);
    } catch {
      return;
    }
    const send = (x: Record<string, unknown>) => ws.send(JSON.stringify(x));
    if (f.msg === "connect") return void send({ msg: "connected", session: randomId() });
    if (f.msg === "ping") return void send({ msg: "pong", ...(f.id ? { id: f.id } : {}) });
    if (f.msg === "pong") return void this.pongs++;
    if (f.msg === "method" && f.method === "login") {
      const limited = this.limitedLogins.shift();
      if (limited !== undefined) {
        const reason = `Error, too many requests. Please slow down. You must wait ${Math.ceil(limited / 1000)} seconds before trying again.`;
        return void send({ msg: "result", id: f.id, error: { isClientSafe: true, error: "too-many-requests", reason, details: { timeToReset: limited }, message: `${reason} [too-many-requests]`, errorType: "Meteor.Error" } });
      }
      const resume = (f.params?.[0] as { resume?: string } | undefined)?.resume ?? "";
      const uid = this.refuseResume ? undefined : this.userForToken(resume);
      if (!uid) {
        const reason = "You've been logged out by the server. Please log in again.";
        return void send({ msg: "result", id: f.id, error: { isClientSafe: true, error: 403, reason, message: `${reason} [403]`, errorType: "Meteor.Error" } });
      }
      ws.data.userId = uid;
      send({ msg: "result", id: f.id, result: { id: uid, token: resume, tokenExpires: { $date: Date.now() + 7_776_000_000 }, type: "resume" } });
      return void send({ msg: "updated", methods: [f.id] });
    }
    if (f.msg === "sub" && f.name === "stream-room-messages" && f.id) {
      if (!ws.data.userId) return void send({ msg: "nosub", id: f.id, error: { isClientSafe: true, error: "not-allowed", reason: "Not allowed", message: "Not allowed [not-allowed]", errorType: "Meteor.Error" } });
      ws.data.subs.add(f.id);
      return void send({ msg: "ready", subs: [f.id] });
    }
  }
}

export function startRocketChatEmulator(opts: RocketChatEmulatorOptions): RocketChatEmulator {
  return new RocketChatEmulator(opts).start();
}
