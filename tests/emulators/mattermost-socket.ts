/**
 * The Mattermost emulator's WebSocket side: the sessions it holds, the authentication challenge,
 * `hello`, and the `posted` events (with `mentions`) for the members of a channel. The REST side
 * and the stored data are mattermost.ts, which hands this the two lookups it needs.
 */
import type { Server, ServerWebSocket } from "bun";
import { appError, type EmuChannel, type EmuPost, type EmuUser, newId, type SocketData } from "./mattermost-wire.ts";

/** The WebSocket sessions of one emulated server. */
export class MattermostSockets {
  private readonly sockets = new Set<ServerWebSocket<SocketData>>();
  private silentNext = 0;

  constructor(
    private readonly userForToken: (token: string) => string | undefined,
    private readonly users: () => ReadonlyMap<string, EmuUser>,
  ) {}

  /** A socket opened: greeted at once when its upgrade carried a valid token. */
  open(ws: ServerWebSocket<SocketData>): void {
    this.sockets.add(ws);
    if (ws.data.userId && !ws.data.silent) this.hello(ws);
  }

  /** A socket closed. */
  close(ws: ServerWebSocket<SocketData>): void {
    this.sockets.delete(ws);
  }

  /** The next `n` sockets are upgraded but never answered (no auth reply, no hello). */
  silenceNext(n: number): void {
    this.silentNext = n;
  }

  /** Closes every socket abruptly (no close frame), as a network drop or server crash would. */
  drop(): void {
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
  }

  /** How many authenticated sessions are open. */
  get connected(): number {
    return [...this.sockets].filter((s) => s.data.userId && !s.data.silent).length;
  }

  /** Upgrades `/api/v4/websocket`; a token in the header authenticates at once. */
  upgrade(req: Request, server: Server<SocketData>): Response | undefined {
    const header = req.headers.get("authorization") ?? "";
    const token = /^(?:Bearer|Token)\s+(\S+)$/i.exec(header)?.[1];
    const silent = this.silentNext > 0;
    if (silent) this.silentNext--;
    const data: SocketData = { userId: token ? this.userForToken(token) : undefined, silent, seq: 0, connectionId: newId() };
    if (server.upgrade(req, { data })) return undefined;
    return appError(400, "api.web_socket.connect.upgrade.app_error", "Failed to upgrade websocket connection.");
  }

  /** One client frame: the authentication challenge, a ping, or anything else (answered OK). */
  onMessage(ws: ServerWebSocket<SocketData>, raw: string): void {
    if (ws.data.silent) return;
    let msg: { action?: string; seq?: number; data?: { token?: string } };
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    const reply = (body: Record<string, unknown>) => ws.send(JSON.stringify({ ...body, seq_reply: msg.seq }));
    if (msg.action === "authentication_challenge") {
      const userId = msg.data?.token ? this.userForToken(msg.data.token) : undefined;
      if (!userId) {
        reply({ status: "FAIL", error: { id: "api.web_socket_router.not_authenticated.app_error", message: "No authentication token provided.", status_code: 401 } });
        return;
      }
      const first = !ws.data.userId;
      ws.data.userId = userId;
      reply({ status: "OK" });
      if (first) this.hello(ws);
      return;
    }
    if (!ws.data.userId) {
      reply({ status: "FAIL", error: { id: "api.web_socket_router.not_authenticated.app_error", message: "No authentication token provided.", status_code: 401 } });
      return;
    }
    if (msg.action === "ping") reply({ status: "OK", data: { text: "pong", version: "10.5.0", server_time: Date.now(), node_id: "" } });
    else reply({ status: "OK" });
  }

  /** `hello`: the first event of a session, once authenticated. */
  private hello(ws: ServerWebSocket<SocketData>): void {
    this.emit(ws, "hello", { connection_id: ws.data.connectionId, server_version: "10.5.0.10.5.0.emulator.false", server_hostname: "emulator" }, { user_id: ws.data.userId });
  }

  /** One event, numbered by the socket's own `seq`. */
  private emit(ws: ServerWebSocket<SocketData>, event: string, data: Record<string, unknown>, broadcast: Record<string, unknown> = {}): void {
    const seq = ws.data.seq++;
    const full = { omit_users: null, user_id: "", channel_id: "", team_id: "", connection_id: "", omit_connection_id: "", ...broadcast };
    ws.send(JSON.stringify({ event, data, broadcast: full, seq }));
  }

  /** The `posted` event to every authenticated member socket of the channel. */
  broadcastPosted(post: EmuPost, channel: EmuChannel, sender: EmuUser): void {
    const data: Record<string, unknown> = {
      channel_display_name: channel.type === "D" ? `@${sender.username}` : channel.display_name,
      channel_name: channel.name,
      channel_type: channel.type,
      post: JSON.stringify(post),
      sender_name: `@${sender.username}`,
      set_online: true,
      team_id: channel.team_id,
    };
    const mentions = this.mentions(post, channel, sender);
    if (mentions.length > 0) data.mentions = JSON.stringify(mentions);
    for (const ws of this.sockets) {
      if (ws.data.userId && !ws.data.silent && channel.members.has(ws.data.userId)) this.emit(ws, "posted", data, { channel_id: channel.id });
    }
  }

  /** Members named `@username` in the text; in a direct channel the other member always is. */
  private mentions(post: EmuPost, channel: EmuChannel, sender: EmuUser): string[] {
    const ids = new Set<string>();
    for (const m of post.message.matchAll(/@([a-z0-9._-]+)/gi)) {
      const user = [...this.users().values()].find((u) => u.username === m[1]!.toLowerCase().replace(/[._-]+$/, ""));
      if (user && user.id !== sender.id && channel.members.has(user.id)) ids.add(user.id);
    }
    if (channel.type === "D") for (const id of channel.members) if (id !== sender.id) ids.add(id);
    return [...ids];
  }
}
