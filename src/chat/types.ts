/**
 * The one contract between st2bot and a chat service. A backend only translates between its
 * service and these shapes; routing, ACLs and formatting policy live in src/bot and src/delivery.
 */
import type { Rate } from "../lib/rate.ts";

/** Who sent a message. */
export interface Identity {
  /** The service's stable id (Slack U123, Mattermost user id, bare JID, terminal name). */
  id: string;
  /** The short handle people type (`alice`). */
  nick: string;
  /** The display name, where the service has one (shown by `!whoami`; never decides access). */
  fullName?: string;
  /** The address the service reports, where it has one (shown by `!whoami`; never decides access). */
  email?: string;
  /** What ACL rules match on (Errbot's `aclattr`), e.g. `@alice` on Slack, `alice@host` on XMPP. */
  aclId: string;
  /** The `user` string err-stackstorm sends to StackStorm for this person on this service. */
  st2User: string;
  /**
   * The person's own account when `id` names something another person can take over later (an
   * XMPP room occupant `room@conf/nick`): their real bare JID, or `null` when the room hides it.
   * Absent: `id` is the account. Per-person state (a linked StackStorm login) is keyed on this,
   * never on a nick.
   */
  account?: string | null;
  /**
   * IRC's `nick!user@host`, a second ACL attribute: user globs containing `!` (in rules and
   * `bot.admins`) match it, all others match `aclId`. Absent on services without masks.
   */
  aclMask?: string;
}

/** A room (channel, group chat, MUC) a message was said in. */
export interface Room {
  /** The service's stable id for it (Slack C123, Mattermost channel id, room JID). */
  id: string;
  /** Human name, e.g. `#ops`, `~town-square`, `ops@conference.host`. */
  name: string;
}

/** One incoming chat message, normalized. */
export interface Message {
  /** What was typed, as the service delivered it (the backend has turned markup into text). */
  text: string;
  /** Who said it. */
  from: Identity;
  /** Absent for a direct message. */
  room?: Room;
  /** True for a one-to-one message to the bot (admin commands and logins may require one). */
  direct: boolean;
  /** Thread id where the service has threads and the message was in one. */
  thread?: string;
  /** True when the message addressed the bot by name (`@st2bot ...`); the prefix is then optional. */
  mentioned?: boolean;
  /** The backend's own event, for debugging only. */
  raw?: unknown;
  /**
   * Set when this is a click on a choice of a message st2bot sent with `Outgoing.actions`, not
   * something typed: `text` is then empty (the router ignores it) and `from` is the person who
   * clicked, identified by the service exactly as for a message they typed.
   */
  action?: ActionClick;
}

/**
 * One control under a message, in neutral terms: buttons, or a select of options. Every choice
 * carries its own callback token (unguessable, single-use, issued by st2bot); a click hands
 * that token back in `Message.action`. A backend shows controls only where its service can and
 * the service hands the click back to st2bot; every other backend ignores them (the text of the
 * message always says how to answer without a click).
 */
export type ChatAction =
  | { kind: "buttons"; choices: ChatChoice[] }
  | { kind: "select"; placeholder: string; choices: ChatChoice[] };

/** One choice of a `ChatAction`: a button, or an option of a select. */
export interface ChatChoice {
  /** What the person sees (plain text, short). */
  label: string;
  /** The callback token; a secret as long as it is unused (never logged, never shown). */
  token: string;
  /** A hint for the service's colouring (approve / deny); plain where unsupported. */
  style?: "primary" | "danger";
}

/**
 * What st2bot asks for before tokens exist (bot/ → outbox): each choice names the command a
 * click runs on the clicker's behalf. The outbox issues one token per choice at send time, so
 * no usable token is ever stored in clear (tokens are kept hashed, store/actions.ts).
 */
export interface ActionRequest {
  /** Buttons or a select, as in `ChatAction`. */
  kind: ChatAction["kind"];
  /** The select's prompt (required for a select, ignored for buttons). */
  placeholder?: string;
  /** Choices sharing a group are answered once: after one succeeds, the others say so. */
  group: string;
  /** When the tokens stop working (epoch ms). */
  expiresAt: number;
  /** What each choice shows and the command a click runs as the person who clicked. */
  choices: { label: string; style?: "primary" | "danger"; command: string }[];
}

/** A click, as the backend hands it over (see `Message.action`). */
export interface ActionClick {
  /** The token of the chosen choice, as the service returned it (untrusted until looked up). */
  token: string;
  /**
   * Shows `note` on the clicked message in place of its controls (who answered what and when);
   * the message's own text stays. Resolves once the service accepted the change.
   */
  update(note: string): Promise<void>;
  /**
   * Tells only the person who clicked (Slack ephemeral message, Mattermost `ephemeral_text`).
   * Absent: the caller replies in the conversation instead.
   */
  notify?(text: string): Promise<void>;
}

/** Where a message goes. */
export type Target =
  | { kind: "user"; id: string; name?: string }
  | { kind: "room"; id: string; name?: string; thread?: string };

/** A message to send: text plus the announcement's `extra` for rich formatting. */
export interface Outgoing {
  /** The plain text; always enough on its own (a backend without rich formatting sends only this). */
  text: string;
  /** StackStorm's announcement `extra` (e.g. `slack` attachments), read by the backend it names. */
  extra?: Record<string, unknown>;
  /** The text carries a secret (a login link): kept encrypted at rest. Backends ignore it. */
  secret?: boolean;
  /**
   * Stable across retries of one outbox message (and of each part of a split one), set by the
   * outbox: a backend whose service deduplicates sends keys them on it (Discord's nonce, Matrix's
   * transaction id), so a retry after a lost confirmation is never posted twice.
   */
  id?: string;
  /**
   * Controls to show under the message (see `ChatAction`). Optional for every backend: one
   * without interactivity sends the text alone, as before.
   */
  actions?: ChatAction[];
}

/**
 * A message the service stored, as `post` returned it, for later `edit`s. Both fields are the
 * backend's own (Slack: channel id + ts; Mattermost: channel + post id; Matrix: room + event id;
 * Rocket.Chat: room id + message _id) and opaque to everyone else; a ref is only ever handed back
 * to the backend instance that made it.
 */
export interface MessageRef {
  /** The conversation the message is in, in the backend's terms. */
  readonly room: string;
  /** The message's id within it, in the backend's terms. */
  readonly id: string;
}

/** Where a backend's connection stands; `stopped` only after `stop()`. */
export type ConnectionState = "connecting" | "connected" | "disconnected" | "stopped";

/** A backend's connection as `!status`, `/health` and the log report it. */
export interface BackendStatus {
  /** The connection's state. */
  state: ConnectionState;
  /** Why, in a few words (the last error while disconnected; e.g. a room not joined while connected). */
  detail?: string;
  /** When `state` last changed (epoch ms); a change of `detail` alone does not move it. */
  since: number;
}

/** What a backend calls for each incoming message (and click); resolves once the bot has handled it. */
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
  readonly sendRate?: Rate;
  /**
   * The service's published limit for the whole bot, across every channel (Discord: 50
   * requests per second), honoured by the outbox on top of `sendRate`. Absent: the outbox
   * assumes ten times `sendRate` (unlimited without either).
   */
  readonly overallSendRate?: Rate;
  /** Connects and starts delivering messages to `onMessage`; reconnects by itself after drops. */
  start(onMessage: MessageHandler): Promise<void>;
  /** Disconnects and stops reconnecting. */
  stop(): Promise<void>;
  /** The connection's state now (a copy). */
  status(): BackendStatus;
  /** The names people may address the bot by (`st2bot`, `@st2bot`, `<@U0BOT>`). */
  botNames(): string[];
  /** Posts one message (the outbox has split it to `maxMessageLength`); errors: see above. */
  send(target: Target, msg: Outgoing): Promise<void>;
  /**
   * Optional, for a service that takes many messages as one and confirms them together (the
   * terminal: one write of many lines). Posts `msgs` to `target` in this order, as `send` would
   * one after another, and resolves only once the service confirmed every one of them. A
   * rejection (SendError, as for `send`) means none counts as confirmed: the outbox sends them
   * all again (at least once), one at a time through `send`, so each one's own answer tells
   * which fails. Absent: the outbox sends one message at a time.
   */
  sendMany?(target: Target, msgs: Outgoing[]): Promise<void>;
  /**
   * Turns the `user` or `channel` string StackStorm sends back (announcement payload, webhook)
   * into a target. Throws SendError (not retryable) when it names nothing on this service.
   */
  resolve(kind: "user" | "channel", value: string): Promise<Target>;
  /** The target a reply to `msg` goes to: the same room and thread, or the DM. */
  replyTarget(msg: Message): Target;
  /** The `source_channel` string err-stackstorm sends to StackStorm for this message. */
  sourceChannel(msg: Message): string;
  /**
   * Makes text the bot writes itself (replies, errors, anything that may quote what a user
   * typed) plain on this service: it shows as written and cannot mention a person or the whole
   * room (Slack `<!channel>`, `<@U…>`; Mattermost `@channel`, `@alice`). Absent where the
   * service has no such syntax. StackStorm's own results are not passed through it.
   */
  escape?(text: string): string;
  /**
   * For a service whose clicks reach st2bot by HTTP (Mattermost's interactive messages POST to
   * st2bot's web server): `body` is the request's parsed JSON. The backend authenticates the
   * click by its token, turns it into a `Message` with `action` for the handler given to
   * `start`, waits for the handler, and resolves with the JSON to answer (status 200), or
   * `undefined` when the request is not a click it recognises (answered 400). Absent where clicks
   * arrive on the service's own connection (Slack Socket Mode) or there are none.
   */
  handleAction?(body: unknown): Promise<Record<string, unknown> | undefined>;
  /**
   * Optional, always together with `edit` (a backend offers both or neither): sends one message
   * like `send` (same confirmation and SendError contract; `msg.text` fits `maxMessageLength`,
   * nothing is split) and resolves with its reference. Used for live output (`!st2 tail`),
   * which goes around the outbox: an edit is superseded by the next one, and what must not be
   * lost (the final status) is sent through the outbox as a normal message.
   */
  post?(target: Target, msg: Outgoing): Promise<MessageRef>;
  /**
   * Replaces the text of a message `post` returned (Slack `chat.update`, Mattermost post patch,
   * Matrix `m.replace`, Rocket.Chat `chat.update`). Resolves on confirmation; throws SendError:
   * retryable with `retryAfterMs` for a rate limit, not retryable when the message can no
   * longer be edited (deleted, too old). Absent where the service has no edits: callers then
   * send a sequence of messages instead.
   */
  edit?(ref: MessageRef, msg: Outgoing): Promise<void>;
}
