/**
 * The one contract between st2bot and a chat service. A backend only translates between its
 * service and these shapes; routing, ACLs and formatting policy live in src/bot and src/delivery.
 */

/** Who sent a message. */
export interface Identity {
  /** The service's stable id (Slack U123, Mattermost user id, bare JID, terminal name). */
  id: string;
  /** The short handle people type (`alice`). */
  nick: string;
  fullName?: string;
  email?: string;
  /** What ACL rules match on (Errbot's `aclattr`), e.g. `@alice` on Slack, `alice@host` on XMPP. */
  aclId: string;
  /** The `user` string err-stackstorm sends to StackStorm for this person on this service. */
  st2User: string;
  /**
   * IRC's `nick!user@host`, a second ACL attribute: user globs containing `!` (in rules and
   * `bot.admins`) match it, all others match `aclId`. Absent on services without masks.
   */
  aclMask?: string;
}

export interface Room {
  id: string;
  /** Human name, e.g. `#ops`, `~town-square`, `ops@conference.host`. */
  name: string;
}

/** One incoming chat message, normalized. */
export interface Message {
  text: string;
  from: Identity;
  /** Absent for a direct message. */
  room?: Room;
  direct: boolean;
  /** Thread id where the service has threads and the message was in one. */
  thread?: string;
  /** True when the message addressed the bot by name (`@st2bot ...`); the prefix is then optional. */
  mentioned?: boolean;
  /** The backend's own event, for debugging only. */
  raw?: unknown;
}

/** Where a message goes. */
export type Target =
  | { kind: "user"; id: string; name?: string }
  | { kind: "room"; id: string; name?: string; thread?: string };

/** A message to send: text plus the announcement's `extra` for rich formatting. */
export interface Outgoing {
  text: string;
  extra?: Record<string, unknown>;
}

export type ConnectionState = "connecting" | "connected" | "disconnected" | "stopped";

export interface BackendStatus {
  state: ConnectionState;
  detail?: string;
  since: number;
}

export type MessageHandler = (msg: Message) => Promise<void> | void;

/**
 * A chat service. `send` resolves only when the service confirmed the message; it throws
 * `SendError` (from lib/errors) with `retryable` and, for rate limits, `retryAfterMs`.
 */
export interface ChatBackend {
  /** Registry name, also the `source_context.backend` sent to StackStorm. */
  readonly name: string;
  /** Longest text one message may hold on this service (characters). */
  readonly maxMessageLength: number;
  /**
   * The service's published send limit, honoured by the outbox before any 429 happens
   * (Slack: about one message per second per channel). Absent means unlimited.
   */
  readonly sendRate?: { perSecond: number; burst: number };
  /** Connects and starts delivering messages to `onMessage`; reconnects by itself after drops. */
  start(onMessage: MessageHandler): Promise<void>;
  stop(): Promise<void>;
  status(): BackendStatus;
  /** The names people may address the bot by (`st2bot`, `@st2bot`, `<@U0BOT>`). */
  botNames(): string[];
  send(target: Target, msg: Outgoing): Promise<void>;
  /**
   * Turns the `user` or `channel` string StackStorm sends back (announcement payload, webhook)
   * into a target. Throws SendError (not retryable) when it names nothing on this service.
   */
  resolve(kind: "user" | "channel", value: string): Promise<Target>;
  /** The target a reply to `msg` goes to: the same room and thread, or the DM. */
  replyTarget(msg: Message): Target;
  /** The `source_channel` string err-stackstorm sends to StackStorm for this message. */
  sourceChannel(msg: Message): string;
}
