/**
 * A Mattermost server on the wire, for tests: the REST v4 endpoints and the WebSocket that
 * `@mattermost/client` (Client4 + WebSocketClient) talks to, answering in Mattermost's own
 * shapes (JSON with `Content-Type: application/json`, error bodies `{id, message,
 * status_code}`, a plain-text 429 with the rate-limit headers, `posted` events whose `post` and
 * `mentions` are JSON strings). Loopback only; every connection is a fresh WebSocket session
 * (hello seq 0), as after a server restart. `PUT /posts/{id}/patch` edits a post (its author
 * only; message and/or props; `edit_at` set), recorded in `edits`; a queued 429 applies to it too.
 */
import type { Server } from "bun";
import { MattermostSockets } from "./mattermost-socket.ts";
import { appError, type EmuChannel, type EmuPost, type EmuUser, forbidden, forClient, json, type MattermostEmulatorOptions, newId, notFound, publicChannel, publicUser, type SocketData, type UserFixture, validAttachments } from "./mattermost-wire.ts";

export type { ChannelFixture, EmuChannel, EmuPost, EmuUser, MattermostEmulatorOptions, UserFixture } from "./mattermost-wire.ts";
export { newId } from "./mattermost-wire.ts";

export class MattermostEmulator {
  readonly team: { id: string; name: string; display_name: string };
  readonly users = new Map<string, EmuUser>();
  readonly channels = new Map<string, EmuChannel>();
  readonly posts = new Map<string, EmuPost>();
  /** Posts created through the REST API (the bot's), in order. */
  readonly received: EmuPost[] = [];
  /** Every post patch accepted, in order: the post as it became, and when. */
  readonly edits: { post: EmuPost; at: number }[] = [];
  /** Every REST request, `METHOD /path`, for asserting what the client asked. */
  readonly requests: string[] = [];
  private readonly sessions = new Map<string, string>();
  private readonly sockets = new MattermostSockets((token) => this.userForToken(token), () => this.users);
  private readonly maxPostSize: number;
  private readonly port: number;
  private pending429: { retryAfterSec: number }[] = [];
  private readonly hidden = new Set<string>();
  private delayMs = 0;
  private server!: Server<SocketData>;

  constructor(opts: MattermostEmulatorOptions) {
    this.team = { id: opts.team?.id ?? newId(), name: opts.team?.name ?? "st2", display_name: opts.team?.display_name ?? "StackStorm" };
    this.maxPostSize = opts.maxPostSize ?? 16383;
    this.port = opts.port ?? 0;
    for (const u of opts.users) this.addUser(u);
    for (const c of opts.channels) {
      const members = new Set(c.members.map((name) => this.user(name).id));
      const id = c.id ?? newId();
      const type = c.type ?? "O";
      this.channels.set(id, { id, name: c.name, display_name: c.display_name ?? c.name, type, team_id: type === "G" ? "" : this.team.id, members });
    }
  }

  /** Starts listening on 127.0.0.1 at a free port. */
  start(): this {
    this.server = Bun.serve<SocketData>({
      hostname: "127.0.0.1",
      port: this.port,
      fetch: (req, server) => this.handle(req, server),
      websocket: {
        open: (ws) => this.sockets.open(ws),
        message: (ws, raw) => this.sockets.onMessage(ws, String(raw)),
        close: (ws) => this.sockets.close(ws),
      },
    });
    return this;
  }

  /** The server root, as configured in `mattermost.url`. */
  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  addUser(u: UserFixture): EmuUser {
    const user: EmuUser = {
      id: u.id ?? newId(),
      username: u.username,
      first_name: u.first_name ?? "",
      last_name: u.last_name ?? "",
      email: u.email ?? `${u.username}@example.com`,
      is_bot: u.is_bot ?? false,
      password: u.password,
      token: u.token,
    };
    this.users.set(user.id, user);
    return user;
  }

  /** A user by username or id; throws when unknown (a test mistake). */
  user(nameOrId: string): EmuUser {
    const name = nameOrId.replace(/^@/, "");
    const found = this.users.get(name) ?? [...this.users.values()].find((u) => u.username === name);
    if (!found) throw new Error(`emulator: no user ${nameOrId}`);
    return found;
  }

  /** A channel by `~name`, name or id; `@user` with `from` gives their direct channel. */
  channel(ref: string, from?: string): EmuChannel {
    if (ref.startsWith("@")) {
      if (!from) throw new Error("emulator: a direct channel needs the sender");
      return this.directChannel(this.user(from).id, this.user(ref).id);
    }
    const name = ref.replace(/^~/, "");
    const found = this.channels.get(name) ?? [...this.channels.values()].find((c) => c.name === name && c.type !== "D");
    if (!found) throw new Error(`emulator: no channel ${ref}`);
    return found;
  }

  /** The direct channel between two users, created on first use as Mattermost does. */
  directChannel(a: string, b: string): EmuChannel {
    const name = [a, b].sort().join("__");
    const existing = [...this.channels.values()].find((c) => c.type === "D" && c.name === name);
    if (existing) return existing;
    const channel: EmuChannel = { id: newId(), name, display_name: "", type: "D", team_id: "", members: new Set([a, b]) };
    this.channels.set(channel.id, channel);
    return channel;
  }

  /** How a test names where a post went: `~channel` for rooms, `@other` for a direct channel. */
  describeChannel(channelId: string, viewer: string): string {
    const c = this.channels.get(channelId);
    if (!c) return `?${channelId}`;
    if (c.type !== "D") return `~${c.name}`;
    const me = this.user(viewer).id;
    const other = [...c.members].find((id) => id !== me) ?? me;
    return `@${this.users.get(other)!.username}`;
  }

  /**
   * A person posts: the post is stored and a `posted` event goes to every connected member of
   * the channel, with channel_type, channel_name, sender_name and mentions as Mattermost sends.
   */
  postAsUser(p: { user: string; channel: string; message: string; root_id?: string; type?: string }): EmuPost {
    const sender = this.user(p.user);
    const channel = this.channel(p.channel, p.user);
    const post = this.storePost({ user_id: sender.id, channel_id: channel.id, message: p.message, root_id: p.root_id ?? "", props: {}, type: p.type ?? "" });
    this.sockets.broadcastPosted(post, channel, sender);
    return post;
  }

  /** The next `n` post creations or patches answer 429 with Retry-After / X-Ratelimit-Reset `retryAfterSec`. */
  inject429(n: number, retryAfterSec = 1): void {
    for (let i = 0; i < n; i++) this.pending429.push({ retryAfterSec });
  }

  /** Every REST answer is delayed by `ms` from now on (0 to stop). */
  slow(ms: number): void {
    this.delayMs = ms;
  }

  /** Login sessions expire (personal access tokens stay valid), as after a session timeout. */
  expireSessions(): void {
    this.sessions.clear();
  }

  /** Profile lookups of this user answer 404 (a deactivated or unreadable account). */
  hideUser(nameOrId: string): void {
    this.hidden.add(this.user(nameOrId).id);
  }

  /** The next `n` WebSockets are upgraded but never answered (no auth reply, no hello). */
  silenceNextSockets(n: number): void {
    this.sockets.silenceNext(n);
  }

  /** Closes every WebSocket abruptly (no close frame), as a network drop or server crash would. */
  dropSockets(): void {
    this.sockets.drop();
  }

  /** How many authenticated WebSocket sessions are open. */
  get connectedSockets(): number {
    return this.sockets.connected;
  }

  async stop(): Promise<void> {
    this.dropSockets();
    await this.server.stop(true);
  }

  // ---- REST ----

  private async handle(req: Request, server: Server<SocketData>): Promise<Response | undefined> {
    const url = new URL(req.url);
    const path = url.pathname.replace(/\/+$/, "");
    if (path === "/api/v4/websocket") return this.sockets.upgrade(req, server);
    this.requests.push(`${req.method} ${path}`);
    if (this.delayMs > 0) await Bun.sleep(this.delayMs);
    if (req.method === "POST" && path === "/api/v4/users/login") return this.login(req);
    const userId = this.authenticate(req);
    if (!userId) return appError(401, "api.context.session_expired.app_error", "Invalid or expired session, please login again.");
    return this.route(req, path, userId);
  }

  private async route(req: Request, path: string, me: string): Promise<Response> {
    const parts = path.split("/").slice(3); // after /api/v4
    const [a, b, c, d, e] = parts;
    const get = req.method === "GET";
    if (get && a === "users" && b === "me" && c === "teams" && !d) return json([this.team]);
    if (get && a === "users" && b === "username" && c && !d) return this.sendUser([...this.users.values()].find((u) => u.username === c));
    if (get && a === "users" && b && !c) return this.sendUser(this.users.get(b === "me" ? me : b));
    if (get && a === "teams" && b === "name" && c && !d) {
      return c === this.team.name ? json(this.team) : appError(404, "app.team.get_by_name.missing.app_error", "Unable to find the existing team.");
    }
    if (get && a === "teams" && b && c === "channels" && d === "name" && e) return this.channelByName(b, decodeURIComponent(e), me);
    if (get && a === "channels" && b && !c) return this.sendChannel(this.channels.get(b), me);
    if (req.method === "POST" && a === "channels" && b === "direct" && !c) return this.createDirect(req, me);
    if (req.method === "POST" && a === "posts" && !b) return this.createPost(req, me);
    if (get && a === "posts" && b && !c) return this.sendPost(b, me);
    if (req.method === "PUT" && a === "posts" && b && c === "patch" && !d) return this.patchPost(req, b, me);
    if (get && a === "config" && b === "client") return json({ Version: "10.5.0", MaxPostSize: String(this.maxPostSize), SiteName: "Mattermost" });
    return notFound();
  }

  private async login(req: Request): Promise<Response> {
    const body = (await req.json().catch(() => ({}))) as { login_id?: string; password?: string };
    const user = [...this.users.values()].find((u) => u.username === body.login_id || u.email === body.login_id);
    if (!user || !user.password || user.password !== body.password) {
      return appError(401, "api.user.login.invalid_credentials_email_username", "Enter a valid email or username and/or password.");
    }
    const token = newId();
    this.sessions.set(token, user.id);
    return json(publicUser(user), 200, { Token: token });
  }

  /** Bearer token (header), `Token` scheme, or the MMAUTHTOKEN cookie, as the server accepts. */
  private authenticate(req: Request): string | undefined {
    const header = req.headers.get("authorization") ?? "";
    const cookie = /(?:^|;\s*)MMAUTHTOKEN=([^;]+)/.exec(req.headers.get("cookie") ?? "")?.[1];
    const token = /^(?:Bearer|Token)\s+(\S+)$/i.exec(header)?.[1] ?? cookie;
    return token ? this.userForToken(token) : undefined;
  }

  private userForToken(token: string): string | undefined {
    return this.sessions.get(token) ?? [...this.users.values()].find((u) => u.token === token)?.id;
  }

  private sendUser(user: EmuUser | undefined): Response {
    return user && !this.hidden.has(user.id) ? json(publicUser(user)) : appError(404, "app.user.missing_account.const", "Unable to find the user.");
  }

  private channelByName(teamId: string, name: string, me: string): Response {
    if (teamId !== this.team.id) return appError(404, "app.team.get.find.app_error", "Unable to find the existing team.");
    return this.sendChannel([...this.channels.values()].find((c) => c.name === name && c.team_id === teamId), me);
  }

  private sendChannel(channel: EmuChannel | undefined, me: string): Response {
    if (!channel) return appError(404, "app.channel.get.existing.app_error", "Unable to find the existing channel.");
    if (channel.type !== "O" && !channel.members.has(me)) return forbidden();
    return json(publicChannel(channel));
  }

  private async createDirect(req: Request, me: string): Promise<Response> {
    const body = (await req.json().catch(() => null)) as unknown;
    const ids = Array.isArray(body) && body.every((x) => typeof x === "string") ? (body as string[]) : [];
    if (ids.length !== 2) {
      return appError(400, "api.context.invalid_body_param.app_error", "Invalid or missing user_ids in request body.");
    }
    if (!ids.includes(me)) return forbidden();
    if (!ids.every((id) => this.users.has(id))) return appError(400, "api.channel.create_direct_channel.invalid_user.app_error", "Invalid user ID for direct channel creation.");
    return json(publicChannel(this.directChannel(ids[0]!, ids[1]!)), 201);
  }

  private limited(): Response | undefined {
    const limited = this.pending429.shift();
    if (!limited) return undefined;
    const s = String(limited.retryAfterSec);
    return new Response("limit exceeded\n", {
      status: 429,
      headers: { "Content-Type": "text/plain; charset=utf-8", "X-Ratelimit-Limit": "10", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": s, "Retry-After": s },
    });
  }

  /** `PUT /posts/{id}/patch`: only the fields sent change; another user's post is forbidden (no edit_others_posts). */
  private async patchPost(req: Request, id: string, me: string): Promise<Response> {
    const limited = this.limited();
    if (limited) return limited;
    const post = this.posts.get(id);
    if (!post || post.delete_at) return appError(404, "app.post.get.app_error", "Unable to get the post.");
    if (post.user_id !== me) return forbidden();
    const body = (await req.json().catch(() => null)) as { message?: unknown; props?: unknown } | null;
    if (!body || (body.message !== undefined && typeof body.message !== "string")) {
      return appError(400, "api.context.invalid_body_param.app_error", "Invalid or missing patch in request body.");
    }
    if (typeof body.message === "string" && [...body.message].length > this.maxPostSize) {
      return appError(400, "model.post.is_valid.message_length.app_error", "Message property is longer than the maximum permitted length.");
    }
    const props = (body.props ?? post.props) as EmuPost["props"];
    if (typeof props !== "object" || props === null || Array.isArray(props) || !validAttachments(props.attachments)) {
      return appError(400, "model.post.is_valid.props.app_error", "Invalid props.");
    }
    const now = Date.now();
    Object.assign(post, { message: typeof body.message === "string" ? body.message : post.message, props, edit_at: now, update_at: now });
    this.edits.push({ post: { ...post }, at: now });
    return json(post);
  }

  private async createPost(req: Request, me: string): Promise<Response> {
    const limited = this.limited();
    if (limited) return limited;
    const body = (await req.json().catch(() => null)) as Partial<EmuPost> | null;
    if (!body || typeof body.channel_id !== "string" || typeof (body.message ?? "") !== "string") {
      return appError(400, "api.context.invalid_body_param.app_error", "Invalid or missing post in request body.");
    }
    const channel = this.channels.get(body.channel_id);
    if (!channel || !channel.members.has(me)) return forbidden();
    const message = body.message ?? "";
    if ([...message].length > this.maxPostSize) {
      return appError(400, "model.post.is_valid.message_length.app_error", "Message property is longer than the maximum permitted length.");
    }
    const props = body.props ?? {};
    if (typeof props !== "object" || Array.isArray(props) || !validAttachments(props.attachments)) {
      return appError(400, "model.post.is_valid.props.app_error", "Invalid props.");
    }
    if (!message && !props.attachments) return appError(400, "api.post.create_post.message.app_error", "Message is empty.");
    const rootId = body.root_id ?? "";
    const root = rootId ? this.posts.get(rootId) : undefined;
    if (rootId && (!root || root.channel_id !== channel.id || root.root_id !== "")) {
      return appError(400, "api.post.create_post.root_id.app_error", "Invalid RootId parameter.");
    }
    const post = this.storePost({ user_id: me, channel_id: channel.id, message, root_id: rootId, props, type: "" });
    this.received.push(post);
    this.sockets.broadcastPosted(post, channel, this.users.get(me)!);
    return json(post, 201);
  }

  /** A post as clients get it: the actions' `integration` (url, context) stays on the server. */
  private sendPost(id: string, me: string): Response {
    const post = this.posts.get(id);
    const channel = post && this.channels.get(post.channel_id);
    if (!post || !channel) return appError(404, "app.post.get.app_error", "Unable to get the post.");
    if (channel.type !== "O" && !channel.members.has(me)) return forbidden();
    return json(forClient(post));
  }

  /**
   * A person clicks a button (or picks option `option` of a select) of a post, as Mattermost's
   * server does it (app/integration_action.go, DoPostAction): it POSTs the integration request
   * `{user_id, user_name, channel_id, channel_name, team_id, team_domain, post_id, trigger_id,
   * type, data_source, context}` (a select's choice added to the context as `selected_option`)
   * to the action's `integration.url`, then applies the response's `update` to the post (message
   * and props replaced, edit time set) and returns what the clicker's client is shown. A non-200
   * answer is Mattermost's "unable to complete the action" (400) and changes nothing.
   */
  async click(c: { user: string; post: string; action: string; option?: string }): Promise<{ status: number; ephemeral_text?: string; update?: Record<string, unknown> }> {
    const user = this.user(c.user);
    const post = this.posts.get(c.post);
    const channel = post && this.channels.get(post.channel_id);
    if (!post || !channel) throw new Error(`emulator: no post ${c.post}`);
    if (!channel.members.has(user.id)) throw new Error(`emulator: ${c.user} cannot see that post`);
    const attachments = (post.props.attachments as { actions?: Record<string, unknown>[] }[] | undefined) ?? [];
    const action = attachments.flatMap((a) => a.actions ?? []).find((x) => x.id === c.action);
    if (!action) throw new Error(`emulator: no action ${c.action} on that post`);
    const integration = action.integration as { url: string; context?: Record<string, unknown> };
    const body = {
      user_id: user.id,
      user_name: user.username,
      channel_id: channel.id,
      channel_name: channel.name,
      team_id: channel.team_id,
      team_domain: this.team.name,
      post_id: post.id,
      trigger_id: newId(),
      type: action.type === "select" ? "select" : "",
      data_source: "",
      context: { ...(integration.context ?? {}), ...(c.option !== undefined ? { selected_option: c.option } : {}) },
    };
    const res = await fetch(integration.url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const answer = (await res.json().catch(() => ({}))) as { update?: Record<string, unknown>; ephemeral_text?: string };
    if (res.status !== 200) return { status: 400 };
    if (answer.update) {
      const now = Date.now();
      Object.assign(post, { message: String(answer.update.message ?? ""), props: (answer.update.props as Record<string, unknown>) ?? {}, update_at: now, edit_at: now });
    }
    return { status: 200, ...(answer.ephemeral_text ? { ephemeral_text: answer.ephemeral_text } : {}), ...(answer.update ? { update: answer.update } : {}) };
  }

  private storePost(p: Pick<EmuPost, "user_id" | "channel_id" | "message" | "root_id" | "props" | "type">): EmuPost {
    const now = Date.now();
    const post: EmuPost = {
      id: newId(), create_at: now, update_at: now, edit_at: 0, delete_at: 0, is_pinned: false, original_id: "",
      hashtags: "", pending_post_id: "", reply_count: 0, metadata: {}, ...p,
    };
    this.posts.set(post.id, post);
    if (post.root_id) this.posts.get(post.root_id)!.reply_count++;
    return post;
  }
}

/** Builds and starts an emulator. */
export function startMattermostEmulator(opts: MattermostEmulatorOptions): MattermostEmulator {
  return new MattermostEmulator(opts).start();
}
