/**
 * A small typed client for the few Matrix client-server endpoints a bot needs (v3 paths), over
 * `fetch`. Chosen over matrix-js-sdk, which costs ~23 MB of idle RSS and ~100 ms of import
 * (measured; see the README's Matrix section). Every response is checked with valibot; every
 * failure is a MatrixError carrying the spec's `errcode`, so callers decide what it means.
 */
import * as v from "valibot";
import { registerSecret } from "../../lib/log.ts";
import { describeError } from "../../lib/errors.ts";

/** A failed request: the HTTP status and the spec's `{errcode, error}` (or a network failure, status 0). */
export class MatrixError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
    /** From M_LIMIT_EXCEEDED's `retry_after_ms` (or the Retry-After header). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "MatrixError";
  }
}

const ErrorBody = v.object({ errcode: v.optional(v.string()), error: v.optional(v.string()), retry_after_ms: v.optional(v.number()) });
const LoginReply = v.object({ user_id: v.string(), access_token: v.string(), device_id: v.string() });
const WhoamiReply = v.object({ user_id: v.string(), device_id: v.optional(v.string()) });
const RoomIdReply = v.object({ room_id: v.string() });
const EventIdReply = v.object({ event_id: v.string() });
const JoinedRoomsReply = v.object({ joined_rooms: v.array(v.string()) });
const AnyObject = v.record(v.string(), v.unknown());

/** Who the access token belongs to. */
export type Whoami = v.InferOutput<typeof WhoamiReply>;

interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | undefined>;
  /** Send the access token (default true). */
  auth?: boolean;
  timeoutMs?: number;
  signal?: AbortSignal;
}

const enc = encodeURIComponent;

/** One homeserver session: its base URL and (once known) the access token. */
export class MatrixApi {
  private token?: string;
  private readonly base: string;

  constructor(
    homeserver: string,
    private readonly fetchFn: typeof fetch,
    private readonly timeoutMs: number,
  ) {
    this.base = `${homeserver.replace(/\/+$/, "")}/_matrix/client/v3`;
  }

  /** Uses `token` from now on (and keeps it out of every log line). */
  setToken(token: string): void {
    registerSecret(token);
    this.token = token;
  }

  get hasToken(): boolean {
    return this.token !== undefined;
  }

  /** `m.login.password` as `user` (a full id or a localpart), reusing `deviceId` when given. */
  async login(user: string, password: string, deviceId?: string): Promise<v.InferOutput<typeof LoginReply>> {
    const body = {
      type: "m.login.password",
      identifier: { type: "m.id.user", user },
      password,
      initial_device_display_name: "st2bot",
      ...(deviceId ? { device_id: deviceId } : {}),
    };
    const reply = v.parse(LoginReply, await this.request("POST", "/login", { body, auth: false }));
    this.setToken(reply.access_token);
    return reply;
  }

  /** Ends this access token's session (and its device): for throwaway logins such as doctor's. */
  async logout(): Promise<void> {
    await this.request("POST", "/logout", { body: {} });
  }

  async whoami(): Promise<Whoami> {
    return v.parse(WhoamiReply, await this.request("GET", "/account/whoami"));
  }

  async joinedRooms(): Promise<string[]> {
    return v.parse(JoinedRoomsReply, await this.request("GET", "/joined_rooms")).joined_rooms;
  }

  /** Joins a room by id or alias (accepting an invitation works the same way); its room id. */
  async join(roomIdOrAlias: string): Promise<string> {
    return v.parse(RoomIdReply, await this.request("POST", `/join/${enc(roomIdOrAlias)}`, { body: {} })).room_id;
  }

  /** The room id an alias `#name:server` points to. */
  async resolveAlias(alias: string): Promise<string> {
    return v.parse(RoomIdReply, await this.request("GET", `/directory/room/${enc(alias)}`)).room_id;
  }

  /** One /sync long-poll: the raw body (events.ts reads it) after at most `timeoutSec` of waiting. */
  async sync(since: string | undefined, timeoutSec: number, filter: string, signal?: AbortSignal): Promise<unknown> {
    const query = { since, timeout: String(timeoutSec * 1000), filter };
    return this.request("GET", "/sync", { query, timeoutMs: timeoutSec * 1000 + this.timeoutMs, ...(signal ? { signal } : {}) });
  }

  /** Sends a room event under `txnId`: the same id sent again returns the first event, never a second. */
  async send(roomId: string, eventType: string, txnId: string, content: Record<string, unknown>): Promise<string> {
    const path = `/rooms/${enc(roomId)}/send/${enc(eventType)}/${enc(txnId)}`;
    return v.parse(EventIdReply, await this.request("PUT", path, { body: content })).event_id;
  }

  /** A room's current state event content, or undefined when the room has none of that type. */
  async stateEvent(roomId: string, eventType: string, stateKey = ""): Promise<Record<string, unknown> | undefined> {
    try {
      return v.parse(AnyObject, await this.request("GET", `/rooms/${enc(roomId)}/state/${enc(eventType)}/${enc(stateKey)}`));
    } catch (err) {
      if (err instanceof MatrixError && err.errcode === "M_NOT_FOUND") return undefined;
      throw err;
    }
  }

  /** A private room with `userId` invited, flagged as a direct chat. */
  async createDirect(userId: string): Promise<string> {
    const body = { is_direct: true, invite: [userId], preset: "trusted_private_chat" };
    return v.parse(RoomIdReply, await this.request("POST", "/createRoom", { body })).room_id;
  }

  /** The user's account data of `type`, or undefined when never set. */
  async accountData(userId: string, type: string): Promise<Record<string, unknown> | undefined> {
    try {
      return v.parse(AnyObject, await this.request("GET", `/user/${enc(userId)}/account_data/${enc(type)}`));
    } catch (err) {
      if (err instanceof MatrixError && err.errcode === "M_NOT_FOUND") return undefined;
      throw err;
    }
  }

  async setAccountData(userId: string, type: string, content: Record<string, unknown>): Promise<void> {
    await this.request("PUT", `/user/${enc(userId)}/account_data/${enc(type)}`, { body: content });
  }

  /** One request; resolves with the parsed JSON of a 2xx, rejects with a MatrixError otherwise. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<unknown> {
    const url = new URL(this.base + path);
    for (const [k, val] of Object.entries(opts.query ?? {})) if (val !== undefined) url.searchParams.set(k, val);
    const headers: Record<string, string> = { Accept: "application/json" };
    if (opts.auth !== false && this.token) headers.Authorization = `Bearer ${this.token}`;
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? this.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
    let res: Response;
    try {
      res = await this.fetchFn(url, { method, headers, signal, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
    } catch (err) {
      const why = timeout.aborted ? `timed out after ${opts.timeoutMs ?? this.timeoutMs} ms` : describeError(err);
      throw new MatrixError(0, "NETWORK", `${method} ${path.split("/").slice(0, 2).join("/")}: ${why}`);
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch (err) {
      // A 2xx whose body broke off (connection dropped mid-answer) is a transport failure.
      if (res.ok) throw new MatrixError(0, "NETWORK", `${method} ${path.split("/").slice(0, 2).join("/")}: the answer broke off: ${describeError(err)}`);
    }
    if (res.ok) return body ?? {};
    throw failure(res, body, method, path);
  }
}

/** The MatrixError for a non-2xx answer: `errcode`, `error`, and the wait a 429 asks for. */
function failure(res: Response, body: unknown, method: string, path: string): MatrixError {
  const parsed = v.safeParse(ErrorBody, body);
  const e = parsed.success ? parsed.output : {};
  const errcode = e.errcode ?? `HTTP_${res.status}`;
  let retryAfterMs = e.retry_after_ms;
  const header = Number(res.headers.get("retry-after"));
  if (retryAfterMs === undefined && Number.isFinite(header) && header >= 0 && res.headers.has("retry-after")) retryAfterMs = header * 1000;
  if (retryAfterMs === undefined && res.status === 429) retryAfterMs = 1000;
  // The endpoint without its ids: room ids and aliases are not secret, but keep log lines short.
  const endpoint = path.split("/").filter((p, i) => i < 2 || !p.includes("%")).slice(0, 3).join("/");
  return new MatrixError(res.status, errcode, `${method} ${endpoint}: ${res.status} ${errcode}${e.error ? `: ${e.error}` : ""}`, retryAfterMs);
}
