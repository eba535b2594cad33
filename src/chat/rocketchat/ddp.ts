/**
 * Rocket.Chat's realtime API, used only to receive: a DDP session over a WebSocket
 * (`/websocket`): `connect` → `connected`, `login` with the resume token → `result`, `sub` to
 * `stream-room-messages` / `__my_messages__` → `ready`, then `changed` frames. The server's
 * `ping`s are answered; our own pings find a dead connection. One `open` is one attempt: the
 * backend's ReconnectingLink opens a fresh session (login and subscription again) after a drop.
 */
import * as v from "valibot";
import { ConfigError, SendError } from "../../lib/errors.ts";
import { logger } from "../../lib/log.ts";

const log = logger("chat.rocketchat");

/** The stream the bot subscribes to, and the event carrying every message of the bot's rooms. */
export const STREAM = "stream-room-messages";
export const MY_MESSAGES = "__my_messages__";

const FrameSchema = v.object({
  msg: v.optional(v.string()),
  id: v.optional(v.string()),
  collection: v.optional(v.string()),
  fields: v.optional(v.unknown()),
  subs: v.optional(v.array(v.string())),
  error: v.optional(v.unknown()),
  result: v.optional(v.unknown()),
});
type Frame = v.InferOutput<typeof FrameSchema>;

const MethodErrorSchema = v.object({
  error: v.optional(v.union([v.string(), v.number()])),
  reason: v.optional(v.string()),
  message: v.optional(v.string()),
  details: v.optional(v.object({ timeToReset: v.optional(v.number()) })),
});

export interface DdpOptions {
  /** WebSocket factory (default: the global WebSocket). */
  newWebSocket?: (url: string) => WebSocket;
  /** Our ping's period; a ping unanswered by the next one means the connection is dead. */
  pingIntervalMs: number;
  /** From opening the socket to the subscription's `ready`. */
  openTimeoutMs: number;
  /** The `fields` of each `changed` frame of the message stream. */
  onChanged: (fields: unknown) => void;
  /** A ready session ended without `close` being called. */
  onDrop: (reason: string) => void;
}

interface Session {
  ws: WebSocket;
  ready: boolean;
  awaitingPong: boolean;
  pinger?: ReturnType<typeof setInterval>;
  deadline?: ReturnType<typeof setTimeout>;
  settle?: (err?: Error) => void;
}

export class DdpSocket {
  private session?: Session;
  private seq = 0;

  constructor(private readonly opts: DdpOptions) {}

  /**
   * Opens a session on `url` and logs in with `token` (a personal access token or a login
   * token are both resume tokens). Resolves when the message stream is `ready`; rejects with a
   * ConfigError when the server refuses the token, with an Error for anything else.
   */
  open(url: string, token: string): Promise<void> {
    this.close();
    const ws = (this.opts.newWebSocket ?? ((u: string) => new WebSocket(u)))(url);
    const s: Session = { ws, ready: false, awaitingPong: false };
    this.session = s;
    const loginId = `login-${++this.seq}`;
    const subId = `sub-${this.seq}`;
    const send = (frame: Record<string, unknown>) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(frame));
    const opened = new Promise<void>((resolve, reject) => {
      s.settle = (err) => {
        s.settle = undefined;
        clearTimeout(s.deadline);
        if (err) reject(err);
        else resolve();
      };
    });
    s.deadline = setTimeout(() => this.end(s, `no subscription within ${this.opts.openTimeoutMs} ms`), this.opts.openTimeoutMs);
    ws.addEventListener("open", () => send({ msg: "connect", version: "1", support: ["1"] }));
    ws.addEventListener("error", () => log.debug("realtime socket error"));
    ws.addEventListener("close", (e) => this.end(s, `realtime socket closed (${e.code})`));
    ws.addEventListener("message", (e) => {
      if (this.session !== s) return;
      const frame = parseFrame(e.data);
      if (!frame) return;
      switch (frame.msg) {
        case "connected":
          return void send({ msg: "method", method: "login", id: loginId, params: [{ resume: token }] });
        case "failed":
          return this.end(s, "the server does not speak DDP version 1");
        case "result":
          if (frame.id !== loginId) return;
          if (frame.error !== undefined) return this.end(s, loginRefusal(frame.error));
          return void send({ msg: "sub", id: subId, name: STREAM, params: [MY_MESSAGES, false] });
        case "ready":
          if (!frame.subs?.includes(subId)) return;
          s.ready = true;
          s.pinger = setInterval(() => this.ping(s), this.opts.pingIntervalMs);
          return s.settle?.();
        case "nosub":
          if (frame.id === subId) this.end(s, `the server refused the ${STREAM} subscription`);
          return;
        case "ping":
          return void send({ msg: "pong", ...(frame.id ? { id: frame.id } : {}) });
        case "pong":
          s.awaitingPong = false;
          return;
        case "changed":
          if (frame.collection === STREAM) this.opts.onChanged(frame.fields);
          return;
      }
    });
    return opened;
  }

  /** Ends the session, if any; no drop is reported for it. */
  close(): void {
    const s = this.session;
    this.session = undefined;
    if (s) this.teardown(s, new Error("closed"));
  }

  /** A ping still unanswered when the next is due means the peer is gone. */
  private ping(s: Session): void {
    if (s.awaitingPong) return this.end(s, `no pong within ${this.opts.pingIntervalMs} ms`);
    s.awaitingPong = true;
    if (s.ws.readyState === WebSocket.OPEN) s.ws.send(JSON.stringify({ msg: "ping", id: `ping-${++this.seq}` }));
  }

  /** The session `s` failed or closed: fail its opening, or report the drop once. */
  private end(s: Session, reason: string | Error): void {
    if (this.session !== s) return;
    this.session = undefined;
    const err = typeof reason === "string" ? new Error(reason) : reason;
    const wasReady = s.ready;
    this.teardown(s, err);
    if (wasReady) this.opts.onDrop(err.message);
  }

  private teardown(s: Session, err: Error): void {
    clearInterval(s.pinger);
    clearTimeout(s.deadline);
    s.settle?.(err);
    try {
      s.ws.close();
    } catch {
      // already closed
    }
  }
}

function parseFrame(data: unknown): Frame | undefined {
  if (typeof data !== "string") return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return undefined;
  }
  const frame = v.safeParse(FrameSchema, raw);
  return frame.success ? frame.output : undefined;
}

/**
 * A refused resume token is the configuration's problem (revoked or expired token); Meteor's
 * method rate limiter (`too-many-requests`) says how long to wait before the next login.
 */
function loginRefusal(error: unknown): Error {
  const e = v.safeParse(MethodErrorSchema, error);
  const reason = e.success ? (e.output.reason ?? e.output.message ?? String(e.output.error ?? "")) : "";
  const code = e.success ? e.output.error : undefined;
  if (code === "too-many-requests") return new SendError(`realtime login rate-limited: ${reason}`, true, e.success ? (e.output.details?.timeToReset ?? 1000) : 1000);
  if (code === 403 || code === 401 || code === "403") return new ConfigError(`rocketchat: the realtime API refused the bot's token (${reason || code}): check rocketchat.token`);
  return new Error(`realtime login failed: ${reason || "unknown error"}`);
}
