/**
 * A Matrix homeserver on the wire, for tests (none can be installed here): the client-server
 * v3 endpoints a bot uses, answering as the spec says. JSON everywhere; errors are
 * `{errcode, error}` (401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN, 403 M_FORBIDDEN, 404 M_NOT_FOUND,
 * 429 M_LIMIT_EXCEEDED with `retry_after_ms` and a Retry-After header); /sync long-polls on a
 * stream position (`next_batch`); transaction ids are de-duplicated per device (the spec's
 * scope since v1.7; one access token is one device), a repeat answering the first event's id.
 * It can fail on demand: 429s, expired tokens, and dropped connections (a restart on the
 * same port). People act through `say`, `invite` and `createRoom`. Edits are events like any
 * other (`m.relates_to.rel_type = m.replace`); `current` shows a message as clients do after
 * applying its valid edits (same sender, same room, the original not itself an edit; latest wins).
 */
import type { Server } from "bun";
import { type Device, type EmuRoom, err, json, type MxEvent, rand, type RoomFixture, type Sent, SERVER_NAME, uid, type UserFixture } from "./matrix-wire.ts";

export { SERVER_NAME, type MxEvent, type RoomFixture, type Sent, type UserFixture } from "./matrix-wire.ts";

export class MatrixEmulator {
  readonly rooms = new Map<string, EmuRoom>();
  readonly aliases = new Map<string, string>();
  /** Every request, `METHOD /path` (without the `/_matrix/client/v3` prefix). */
  readonly requests: string[] = [];
  /** Messages the bot (any token of `bot`) sent, in order, duplicates never repeated. */
  readonly received: Sent[] = [];
  private readonly users = new Map<string, { password?: string; displayname?: string; accountData: Map<string, Record<string, unknown>>; adPos: Map<string, number> }>();
  private readonly tokens = new Map<string, Device>();
  private readonly txns = new Map<string, string>();
  private pos = 1;
  private waiters: Array<() => void> = [];
  private lostAnswers = 0;
  private limits: Array<{ endpoint: "send" | "sync" | "any"; retryAfterMs: number }> = [];
  private server!: Server<undefined>;
  private port = 0;

  constructor(private readonly bot: string, users: UserFixture[], rooms: RoomFixture[]) {
    for (const u of users) {
      this.users.set(uid(u.name), { password: u.password, displayname: u.displayname, accountData: new Map(), adPos: new Map() });
      for (const t of u.tokens ?? []) this.tokens.set(t, { userId: uid(u.name), deviceId: `DEV${rand().slice(0, 8).toUpperCase()}` });
    }
    for (const r of rooms) this.createRoom(r.members[0]!, { ...r });
  }

  start(): this {
    this.server = Bun.serve({ hostname: "127.0.0.1", port: this.port, fetch: (req) => this.handle(req) });
    this.port = this.server.port!;
    return this;
  }

  /** The content of event `eventId` as clients show it: its last valid edit's `m.new_content`, else its own. */
  current(eventId: string): Record<string, unknown> | undefined {
    const original = this.received.find((s) => s.event.event_id === eventId);
    if (!original || isEdit(original.event)) return undefined;
    const edits = this.editsOf(eventId);
    return edits.length ? (edits.at(-1)!.event.content["m.new_content"] as Record<string, unknown>) : original.event.content;
  }

  /** The valid edits of event `eventId`, in order. */
  editsOf(eventId: string): Sent[] {
    const original = this.received.find((s) => s.event.event_id === eventId);
    if (!original) return [];
    return this.received.filter((s) => {
      const rel = s.event.content["m.relates_to"] as { rel_type?: string; event_id?: string } | undefined;
      return rel?.rel_type === "m.replace" && rel.event_id === eventId && s.roomId === original.roomId && s.event.sender === original.event.sender &&
        typeof s.event.content["m.new_content"] === "object";
    });
  }

  /** The homeserver base URL (`matrix.homeserver`). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  userId(name: string): string {
    return uid(name);
  }

  /** The next `n` requests to `endpoint` answer 429 M_LIMIT_EXCEEDED asking for `retryAfterMs`. */
  inject429(n: number, retryAfterMs = 1000, endpoint: "send" | "sync" | "any" = "send"): void {
    for (let i = 0; i < n; i++) this.limits.push({ endpoint, retryAfterMs });
  }

  /** The next `n` sends are stored, but their answers break off mid-body (the client cannot know it worked). */
  loseAnswers(n: number): void {
    this.lostAnswers += n;
  }

  /** Answers still to garble: /sync says 200 with a body that is no sync answer. */
  garbledSyncs = 0;

  /** The token stops working (M_UNKNOWN_TOKEN), as after a logout or an admin's revocation. */
  expireToken(token: string): void {
    this.tokens.delete(token);
  }

  /** Tokens the server has issued or knows, with their devices. */
  devices(): Array<Device & { token: string }> {
    return [...this.tokens].map(([token, d]) => ({ token, ...d }));
  }

  /** Closes every connection (pending /sync long-polls included) and listens again on the same port. */
  /** Every answer but /sync's is delayed by `ms` (0 turns it off): a homeserver that stalls. */
  slow(ms: number): void {
    this.delayMs = ms;
  }

  private delayMs = 0;

  async dropConnections(): Promise<void> {
    await this.server.stop(true);
    this.server = Bun.serve({ hostname: "127.0.0.1", port: this.port, fetch: (req) => this.handle(req) });
  }

  async stop(): Promise<void> {
    this.wake();
    await this.server.stop(true);
  }

  // ---- what people do ----

  /** Creates a room as `creator`; returns its id. */
  createRoom(creator: string, r: Partial<RoomFixture> & { members?: string[] }): string {
    const id = `!${rand()}:${SERVER_NAME}`;
    const room: EmuRoom = { id, joined: new Set(), invited: new Set(), public: r.public ?? false, timeline: [], state: new Map() };
    this.rooms.set(id, room);
    this.append(room, { type: "m.room.create", sender: uid(creator), state_key: "", content: { creator: uid(creator), room_version: "10" } });
    this.append(room, { type: "m.room.join_rules", sender: uid(creator), state_key: "", content: { join_rule: room.public ? "public" : "invite" } });
    for (const m of r.members ?? [creator]) this.join(room, uid(m));
    if (r.encrypted) this.append(room, { type: "m.room.encryption", sender: uid(creator), state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } });
    if (r.alias) {
      room.alias = r.alias;
      this.aliases.set(r.alias, id);
      this.append(room, { type: "m.room.canonical_alias", sender: uid(creator), state_key: "", content: { alias: r.alias } });
    }
    for (const m of r.invited ?? []) this.invite(creator, id, m, r.direct ?? false);
    if (r.direct) for (const m of room.joined) this.addDirect(m, [...room.joined].find((x) => x !== m) ?? m, id);
    return id;
  }

  /** `from` invites `who` into `roomId` (`direct`: as a direct chat). */
  invite(from: string, roomId: string, who: string, direct = false): void {
    const room = this.rooms.get(roomId)!;
    room.invited.add(uid(who));
    this.append(room, { type: "m.room.member", sender: uid(from), state_key: uid(who), content: { membership: "invite", ...(direct ? { is_direct: true } : {}) } });
  }

  /** `who` posts an `m.room.message` (`m.text` unless `msgtype`); returns the event id. */
  say(who: string, roomRef: string, body: string, opts: { thread?: string; msgtype?: string; mentions?: string[]; type?: string } = {}): string {
    const room = this.room(roomRef);
    if (!room.joined.has(uid(who))) throw new Error(`${who} is not in ${roomRef}`);
    const content: Record<string, unknown> =
      opts.type === "m.room.encrypted"
        ? { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "AwgAEn…", session_id: rand(), device_id: "ALICEDEV" }
        : { msgtype: opts.msgtype ?? "m.text", body };
    if (opts.thread) content["m.relates_to"] = { rel_type: "m.thread", event_id: opts.thread, is_falling_back: true, "m.in_reply_to": { event_id: opts.thread } };
    if (opts.mentions) content["m.mentions"] = { user_ids: opts.mentions.map(uid) };
    return this.append(room, { type: opts.type ?? "m.room.message", sender: uid(who), content }).event_id;
  }

  /** The direct chat between `a` and `b`, as `a`'s m.direct records it. */
  directRoom(a: string, b: string): string | undefined {
    const rooms = this.users.get(uid(a))?.accountData.get("m.direct")?.[uid(b)];
    return Array.isArray(rooms) ? (rooms as string[]).at(-1) : undefined;
  }

  /** A room by id or alias. */
  room(ref: string): EmuRoom {
    const room = this.rooms.get(this.aliases.get(ref) ?? ref);
    if (!room) throw new Error(`no room ${ref}`);
    return room;
  }

  /** How a test names where a message went: the alias, else `@other:server` for a direct chat of the bot, else the id. */
  describeRoom(roomId: string): string {
    const room = this.rooms.get(roomId);
    if (!room) return roomId;
    if (room.alias) return room.alias;
    const direct = this.users.get(uid(this.bot))?.accountData.get("m.direct") ?? {};
    const other = Object.entries(direct).find(([, rooms]) => Array.isArray(rooms) && rooms.includes(roomId));
    return other ? other[0] : roomId;
  }

  // ---- the server ----

  private append(room: EmuRoom, e: Omit<MxEvent, "event_id" | "room_id" | "origin_server_ts">): MxEvent {
    const event: MxEvent = { ...e, event_id: `$${rand()}`, room_id: room.id, origin_server_ts: Date.now() };
    room.timeline.push({ pos: this.pos++, event });
    if (event.state_key !== undefined) room.state.set(`${event.type}\u0000${event.state_key}`, event);
    this.wake();
    return event;
  }

  private join(room: EmuRoom, userId: string): void {
    room.invited.delete(userId);
    room.joined.add(userId);
    const displayname = this.users.get(userId)?.displayname;
    this.append(room, { type: "m.room.member", sender: userId, state_key: userId, content: { membership: "join", ...(displayname ? { displayname } : {}) } });
  }

  private addDirect(userId: string, other: string, roomId: string): void {
    const user = this.users.get(userId);
    if (!user) return;
    const direct = { ...(user.accountData.get("m.direct") ?? {}) };
    direct[other] = [...((direct[other] as string[] | undefined) ?? []), roomId];
    this.setAccountData(userId, "m.direct", direct);
  }

  private setAccountData(userId: string, type: string, content: Record<string, unknown>): void {
    const user = this.users.get(userId)!;
    user.accountData.set(type, content);
    user.adPos.set(type, this.pos++);
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private limited(endpoint: "send" | "sync" | "other"): Response | undefined {
    const i = this.limits.findIndex((l) => l.endpoint === endpoint || l.endpoint === "any");
    if (i < 0) return undefined;
    const [l] = this.limits.splice(i, 1);
    return err(429, "M_LIMIT_EXCEEDED", "Too Many Requests", { retry_after_ms: l!.retryAfterMs }, { "Retry-After": String(Math.ceil(l!.retryAfterMs / 1000)) });
  }

  private auth(req: Request, url: URL): Device | Response {
    const header = req.headers.get("authorization");
    const token = header?.startsWith("Bearer ") ? header.slice(7) : url.searchParams.get("access_token");
    if (!token) return err(401, "M_MISSING_TOKEN", "Missing access token");
    const device = this.tokens.get(token);
    return device ?? err(401, "M_UNKNOWN_TOKEN", "Unknown access token", { soft_logout: false });
  }

  private async handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const prefix = "/_matrix/client/v3";
    if (!url.pathname.startsWith(prefix)) return err(404, "M_UNRECOGNIZED", "Unrecognized request");
    const path = url.pathname.slice(prefix.length);
    this.requests.push(`${req.method} ${path}`);
    if (this.delayMs && path !== "/sync") await Bun.sleep(this.delayMs);
    const parts = path.split("/").slice(1).map(decodeURIComponent);
    let body: Record<string, unknown> = {};
    if (req.method === "POST" || req.method === "PUT") {
      const text = await req.text();
      if (text.length > 65_536) return err(413, "M_TOO_LARGE", "event too large");
      try {
        body = JSON.parse(text || "{}") as Record<string, unknown>;
      } catch {
        return err(400, "M_NOT_JSON", "Content not JSON.");
      }
    }
    if (req.method === "POST" && path === "/login") return this.login(body);
    const device = this.auth(req, url);
    if (device instanceof Response) return device;
    const me = device.userId;
    const route = `${req.method} ${parts[0]}`;
    if (route === "POST logout") {
      for (const [t, d] of this.tokens) if (d.userId === me && d.deviceId === device.deviceId) this.tokens.delete(t);
      return json({});
    }
    if (route === "GET account" && parts[1] === "whoami") return json({ user_id: me, device_id: device.deviceId, is_guest: false });
    if (route === "GET joined_rooms") return json({ joined_rooms: [...this.rooms.values()].filter((r) => r.joined.has(me)).map((r) => r.id) });
    if (route === "POST join") return this.joinRoute(me, parts[1]!);
    if (route === "GET directory" && parts[1] === "room") {
      const id = this.aliases.get(parts[2]!);
      return id ? json({ room_id: id, servers: [SERVER_NAME] }) : err(404, "M_NOT_FOUND", `Room alias ${parts[2]} not found`);
    }
    if (route === "GET sync" && this.garbledSyncs > 0) {
      this.garbledSyncs--;
      return json({ rooms: "garbage" });
    }
    if (route === "GET sync") return this.limited("sync") ?? this.sync(me, url, req.signal);
    if (route === "POST createRoom") return this.createRoomRoute(me, body);
    if (parts[0] === "user" && parts[2] === "account_data") {
      if (parts[1] !== me) return err(403, "M_FORBIDDEN", "Cannot access another user's account data");
      if (req.method === "PUT") {
        this.setAccountData(me, parts[3]!, body);
        return json({});
      }
      const data = this.users.get(me)?.accountData.get(parts[3]!);
      return data ? json(data) : err(404, "M_NOT_FOUND", "Account data not found");
    }
    if (parts[0] === "rooms") return this.roomRoute(req.method, device, parts, body);
    return err(404, "M_UNRECOGNIZED", "Unrecognized request");
  }

  private login(body: Record<string, unknown>): Response {
    const id = body.identifier as { type?: string; user?: string } | undefined;
    if (body.type !== "m.login.password" || id?.type !== "m.id.user" || !id.user) return err(400, "M_UNKNOWN", "Unknown login type");
    const userId = uid(id.user);
    const user = this.users.get(userId);
    if (!user?.password || user.password !== body.password) return err(403, "M_FORBIDDEN", "Invalid username or password");
    const token = `syt_${rand()}`;
    const deviceId = typeof body.device_id === "string" ? body.device_id : `DEV${rand().slice(0, 8).toUpperCase()}`;
    this.tokens.set(token, { userId, deviceId });
    return json({ user_id: userId, access_token: token, device_id: deviceId, home_server: SERVER_NAME });
  }

  private joinRoute(me: string, ref: string): Response {
    const roomId = this.aliases.get(ref) ?? ref;
    const room = this.rooms.get(roomId);
    if (!room) return err(404, "M_NOT_FOUND", "No known servers");
    if (!room.joined.has(me)) {
      if (!room.public && !room.invited.has(me)) return err(403, "M_FORBIDDEN", "You are not invited to this room.");
      this.join(room, me);
    }
    return json({ room_id: room.id });
  }

  private createRoomRoute(me: string, body: Record<string, unknown>): Response {
    const invite = Array.isArray(body.invite) ? (body.invite as string[]) : [];
    const id = this.createRoom(me, { members: [me], invited: invite, direct: false });
    const room = this.rooms.get(id)!;
    // People accept a direct chat (tests play the person); record it in their m.direct, as clients do.
    for (const u of invite) {
      if (!this.users.has(u)) continue;
      this.join(room, u);
      if (body.is_direct === true) this.addDirect(u, me, id);
    }
    return json({ room_id: id });
  }

  private roomRoute(method: string, device: Device, parts: string[], body: Record<string, unknown>): Response | Promise<Response> {
    const room = this.rooms.get(parts[1]!);
    if (!room || !room.joined.has(device.userId)) return err(403, "M_FORBIDDEN", `User ${device.userId} not in room ${parts[1]}`);
    if (method === "GET" && parts[2] === "state") {
      const e = room.state.get(`${parts[3]}\u0000${parts[4] ?? ""}`);
      return e ? json(e.content) : err(404, "M_NOT_FOUND", "Event not found.");
    }
    if (method === "PUT" && parts[2] === "send" && parts[3] && parts[4]) {
      const limited = this.limited("send");
      if (limited) return limited;
      const key = `${device.userId}|${device.deviceId}|${parts[4]}`;
      const seen = this.txns.get(key);
      if (seen) return json({ event_id: seen });
      const event = this.append(room, { type: parts[3], sender: device.userId, content: body });
      this.txns.set(key, event.event_id);
      if (device.userId === uid(this.bot)) this.received.push({ roomId: room.id, txnId: parts[4], event });
      if (this.lostAnswers > 0) {
        // The event is stored; then the connection dies before the answer is written.
        this.lostAnswers--;
        setTimeout(() => void this.dropConnections(), 20);
        return new Promise<Response>(() => undefined);
      }
      return json({ event_id: event.event_id });
    }
    return err(404, "M_UNRECOGNIZED", "Unrecognized request");
  }

  /** /sync: everything after `since` for `me`, waiting up to `timeout` ms when there is nothing. */
  private async sync(me: string, url: URL, signal: AbortSignal): Promise<Response> {
    const sinceParam = url.searchParams.get("since");
    const since = sinceParam ? Number(sinceParam.replace(/^s/, "")) : undefined;
    if (sinceParam && !Number.isInteger(since)) return err(400, "M_INVALID_PARAM", "Invalid stream token");
    const timeout = Math.min(Number(url.searchParams.get("timeout") ?? 0), 60_000);
    const deadline = Date.now() + timeout;
    for (;;) {
      const answer = this.syncBody(me, since);
      if (answer.news || Date.now() >= deadline || signal.aborted) return json(answer.body);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private syncBody(me: string, since: number | undefined): { news: boolean; body: Record<string, unknown> } {
    const after = since ?? 0;
    const join: Record<string, unknown> = {};
    const invite: Record<string, unknown> = {};
    let news = false;
    for (const room of this.rooms.values()) {
      if (room.invited.has(me)) {
        const invitedAt = room.timeline.findLast((t) => t.event.type === "m.room.member" && t.event.state_key === me)?.pos ?? 0;
        if (invitedAt > after) {
          news = true;
          const stripped = [...room.state.values()].filter((e) => e.type !== "m.room.member" || e.state_key === me);
          invite[room.id] = { invite_state: { events: stripped.map(({ type, sender, state_key, content }) => ({ type, sender, state_key, content })) } };
        }
      }
      if (!room.joined.has(me)) continue;
      // Events in /sync carry no room_id (the room is the key they are listed under).
      const fresh = room.timeline.filter((t) => t.pos > after).map(({ event: { room_id: _r, ...e } }) => e);
      if (since === undefined) {
        // Initial sync: the full state and the last few timeline events.
        join[room.id] = { state: { events: [...room.state.values()].map(({ room_id: _r, ...e }) => e) }, timeline: { events: fresh.slice(-10), limited: fresh.length > 10 }, ephemeral: { events: [] }, account_data: { events: [] } };
        news = true;
      } else if (fresh.length) {
        join[room.id] = { state: { events: [] }, timeline: { events: fresh, limited: false, prev_batch: `s${after}` }, ephemeral: { events: [] }, account_data: { events: [] } };
        news = true;
      }
    }
    const user = this.users.get(me);
    const accountData = [...(user?.accountData ?? [])].filter(([type]) => since === undefined || (user!.adPos.get(type) ?? 0) > after).map(([type, content]) => ({ type, content }));
    if (accountData.length) news = true;
    const body = { next_batch: `s${this.pos - 1}`, account_data: { events: accountData }, presence: { events: [] }, rooms: { join, invite, leave: {} } };
    return { news, body };
  }
}

/** A started emulator whose bot is `bot` (a localpart of `users`). */
export function startMatrixEmulator(opts: { bot: string; users: UserFixture[]; rooms: RoomFixture[] }): MatrixEmulator {
  return new MatrixEmulator(opts.bot, opts.users, opts.rooms).start();
}

function isEdit(event: MxEvent): boolean {
  return (event.content["m.relates_to"] as { rel_type?: string } | undefined)?.rel_type === "m.replace";
}
