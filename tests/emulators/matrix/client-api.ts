/**
 * The Matrix emulator's client-server v3 endpoints a bot uses, answering as the spec says:
 * login/logout/whoami, joined_rooms, join, directory, createRoom, account data, room state and
 * sends (transaction ids de-duplicated per device, the spec's scope since v1.7: a repeat
 * answers the first event's id), and /sync (sync.ts). Errors are `{errcode, error}`. The
 * faults a test switches on (429s, lost answers, garbled /syncs, a slow server) are in `Faults`.
 */
import type { Homeserver } from "./homeserver.ts";
import { sync } from "./sync.ts";
import { type Device, err, json, rand, SERVER_NAME, uid } from "./wire.ts";

type Endpoint = "send" | "sync" | "any";

/** The failures a test has asked for, used up as requests meet them. */
export class Faults {
  /** Requests still to refuse with 429 M_LIMIT_EXCEEDED, by endpoint, in order. */
  limits: Array<{ endpoint: Endpoint; retryAfterMs: number }> = [];
  /** Sends still to store without answering (the connection drops instead). */
  lostAnswers = 0;
  /** /sync answers still to garble: 200 with a body that is no sync answer. */
  garbledSyncs = 0;
  /** Every answer but /sync's waits this long first (0: none). */
  delayMs = 0;

  /** The 429 for the next request to `endpoint`, when one was asked for. */
  limited(endpoint: "send" | "sync" | "other"): Response | undefined {
    const i = this.limits.findIndex((l) => l.endpoint === endpoint || l.endpoint === "any");
    if (i < 0) return undefined;
    const [l] = this.limits.splice(i, 1);
    return err(429, "M_LIMIT_EXCEEDED", "Too Many Requests", { retry_after_ms: l!.retryAfterMs }, { "Retry-After": String(Math.ceil(l!.retryAfterMs / 1000)) });
  }
}

/** The endpoints over one homeserver's state, with the faults a test asked for. */
export class ClientApi {
  /**
   * `requests` receives every request as `METHOD /path`; `dropConnections` restarts the server
   * (how a lost answer ends).
   */
  constructor(
    private readonly hs: Homeserver,
    private readonly faults: Faults,
    private readonly requests: string[],
    private readonly dropConnections: () => Promise<void>,
  ) {}

  /** Answers one request. */
  async handle(req: Request): Promise<Response> {
    const { hs, faults } = this;
    const url = new URL(req.url);
    const prefix = "/_matrix/client/v3";
    if (!url.pathname.startsWith(prefix)) return err(404, "M_UNRECOGNIZED", "Unrecognized request");
    const path = url.pathname.slice(prefix.length);
    this.requests.push(`${req.method} ${path}`);
    if (faults.delayMs && path !== "/sync") await Bun.sleep(faults.delayMs);
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
      for (const [t, d] of hs.tokens) if (d.userId === me && d.deviceId === device.deviceId) hs.tokens.delete(t);
      return json({});
    }
    if (route === "GET account" && parts[1] === "whoami") return json({ user_id: me, device_id: device.deviceId, is_guest: false });
    if (route === "GET joined_rooms") return json({ joined_rooms: [...hs.rooms.values()].filter((r) => r.joined.has(me)).map((r) => r.id) });
    if (route === "POST join") return this.joinRoute(me, parts[1]!);
    if (route === "GET directory" && parts[1] === "room") {
      const id = hs.aliases.get(parts[2]!);
      return id ? json({ room_id: id, servers: [SERVER_NAME] }) : err(404, "M_NOT_FOUND", `Room alias ${parts[2]} not found`);
    }
    if (route === "GET sync" && faults.garbledSyncs > 0) {
      faults.garbledSyncs--;
      return json({ rooms: "garbage" });
    }
    if (route === "GET sync") return faults.limited("sync") ?? sync(hs, me, url, req.signal);
    if (route === "POST createRoom") return this.createRoomRoute(me, body);
    if (parts[0] === "user" && parts[2] === "account_data") {
      if (parts[1] !== me) return err(403, "M_FORBIDDEN", "Cannot access another user's account data");
      if (req.method === "PUT") {
        hs.setAccountData(me, parts[3]!, body);
        return json({});
      }
      const data = hs.users.get(me)?.accountData.get(parts[3]!);
      return data ? json(data) : err(404, "M_NOT_FOUND", "Account data not found");
    }
    if (parts[0] === "rooms") return this.roomRoute(req.method, device, parts, body);
    return err(404, "M_UNRECOGNIZED", "Unrecognized request");
  }

  private auth(req: Request, url: URL): Device | Response {
    const { hs } = this;
    const header = req.headers.get("authorization");
    const token = header?.startsWith("Bearer ") ? header.slice(7) : url.searchParams.get("access_token");
    if (!token) return err(401, "M_MISSING_TOKEN", "Missing access token");
    const device = hs.tokens.get(token);
    return device ?? err(401, "M_UNKNOWN_TOKEN", "Unknown access token", { soft_logout: false });
  }

  private login(body: Record<string, unknown>): Response {
    const { hs } = this;
    const id = body.identifier as { type?: string; user?: string } | undefined;
    if (body.type !== "m.login.password" || id?.type !== "m.id.user" || !id.user) return err(400, "M_UNKNOWN", "Unknown login type");
    const userId = uid(id.user);
    const user = hs.users.get(userId);
    if (!user?.password || user.password !== body.password) return err(403, "M_FORBIDDEN", "Invalid username or password");
    const token = `syt_${rand()}`;
    const deviceId = typeof body.device_id === "string" ? body.device_id : `DEV${rand().slice(0, 8).toUpperCase()}`;
    hs.tokens.set(token, { userId, deviceId });
    return json({ user_id: userId, access_token: token, device_id: deviceId, home_server: SERVER_NAME });
  }

  private joinRoute(me: string, ref: string): Response {
    const { hs } = this;
    const roomId = hs.aliases.get(ref) ?? ref;
    const room = hs.rooms.get(roomId);
    if (!room) return err(404, "M_NOT_FOUND", "No known servers");
    if (!room.joined.has(me)) {
      if (!room.public && !room.invited.has(me)) return err(403, "M_FORBIDDEN", "You are not invited to this room.");
      hs.join(room, me);
    }
    return json({ room_id: room.id });
  }

  private createRoomRoute(me: string, body: Record<string, unknown>): Response {
    const { hs } = this;
    const invite = Array.isArray(body.invite) ? (body.invite as string[]) : [];
    const id = hs.createRoom(me, { members: [me], invited: invite, direct: false });
    const room = hs.rooms.get(id)!;
    // People accept a direct chat (tests play the person); record it in their m.direct, as clients do.
    for (const u of invite) {
      if (!hs.users.has(u)) continue;
      hs.join(room, u);
      if (body.is_direct === true) hs.addDirect(u, me, id);
    }
    return json({ room_id: id });
  }

  private roomRoute(method: string, device: Device, parts: string[], body: Record<string, unknown>): Response | Promise<Response> {
    const { hs, faults } = this;
    const room = hs.rooms.get(parts[1]!);
    if (!room || !room.joined.has(device.userId)) return err(403, "M_FORBIDDEN", `User ${device.userId} not in room ${parts[1]}`);
    if (method === "GET" && parts[2] === "state") {
      const e = room.state.get(`${parts[3]}\u0000${parts[4] ?? ""}`);
      return e ? json(e.content) : err(404, "M_NOT_FOUND", "Event not found.");
    }
    if (method === "PUT" && parts[2] === "send" && parts[3] && parts[4]) {
      const limited = faults.limited("send");
      if (limited) return limited;
      const key = `${device.userId}|${device.deviceId}|${parts[4]}`;
      const seen = hs.txns.get(key);
      if (seen) return json({ event_id: seen });
      const event = hs.append(room, { type: parts[3], sender: device.userId, content: body });
      hs.txns.set(key, event.event_id);
      if (device.userId === uid(hs.bot)) hs.received.push({ roomId: room.id, txnId: parts[4], event });
      if (faults.lostAnswers > 0) {
        // The event is stored; then the connection dies before the answer is written.
        faults.lostAnswers--;
        setTimeout(() => void this.dropConnections(), 20);
        return new Promise<Response>(() => undefined);
      }
      return json({ event_id: event.event_id });
    }
    return err(404, "M_UNRECOGNIZED", "Unrecognized request");
  }
}
