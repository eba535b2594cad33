/**
 * The XMPP backend (@xmpp/client): direct chats (type=chat) and the multi-user chat rooms
 * (XEP-0045) listed in `[xmpp] rooms`, joined with their passwords and rejoined after every
 * reconnect. Identities and strings follow Errbot's XMPP backend and err-stackstorm:
 *
 * | message        | from.id                  | aclId                            | st2User / sourceChannel                   |
 * | -------------- | ------------------------ | -------------------------------- | ----------------------------------------- |
 * | direct         | `alice@host` (bare)      | `alice@host`                     | `alice@host/res` / `alice@host/res`       |
 * | room           | `room@conf.host/alice`   | real bare JID if known, else id  | `room@conf.host/alice` / `room@conf.host` |
 * | private in MUC | `room@conf.host/alice`   | real bare JID if known, else id  | `room@conf.host/alice` / the same         |
 *
 * A room occupant's `account` is their real bare JID, or null where the room hides it: a login
 * is linked to the account, never to a nick someone else may take later.
 *
 * (Errbot's `XMPPRoomOccupant.aclattr` evaluates to the room's bare JID for every occupant, which
 * makes per-user ACLs in rooms meaningless; st2bot uses the occupant's real JID where the room
 * reveals it and the occupant JID otherwise, so a nick alone never matches a user rule.)
 *
 * The pieces: connection.ts (session, reconnect, pings), rooms.ts (MUC joins and occupants),
 * stanzas.ts (incoming messages), targets.ts (addresses), format.ts (outgoing bodies).
 */
import type { XmlElement } from "@xmpp/client";
import type { Config } from "../../config/schema.ts";
import { ConfigError, describeError, SendError } from "../../lib/errors.ts";
import { logger } from "../../lib/log.ts";
import type { ChatBackend, Message, MessageHandler, Outgoing, Target } from "../types.ts";
import { LinkedBackend } from "../linked.ts";
import { requireSection } from "../backend.ts";
import { Connection, type ConnectionTiming } from "./connection.ts";
import { xmpp } from "./settings.ts";
import { buildMessage } from "./format.ts";
import { parseJid } from "./jid.ts";
import { type JoinTiming, Rooms } from "./rooms.ts";
import { incomingMessage, type Self } from "./stanzas.ts";
import { destination, resolveTarget } from "./targets.ts";

/** Injectables for tests; production uses the defaults. */
export type XmppDeps = ConnectionTiming & JoinTiming;

/** Creates the XMPP backend from `[xmpp]`; throws ConfigError when the account or a room is malformed. */
export function createXmppBackend(config: Config, deps: XmppDeps = {}): ChatBackend {
  return new XmppBackend(config, deps);
}

const log = logger("chat.xmpp");
/** Below the outbox's own send timeout (30 s), so the backend says why a send failed. */
const CONFIRM_TIMEOUT_MS = 20_000;

class XmppBackend extends LinkedBackend implements ChatBackend {
  readonly name = "xmpp";
  /**
   * Prosody's default c2s stanza limit is 256 KiB (ejabberd's usual one the same). A message
   * carries its text up to twice (body + XHTML-IM) at up to 5 bytes a character once escaped
   * or UTF-8 encoded: 10,000 characters stay under 100 KB, and longer walls of text are hard to
   * read in XMPP clients anyway.
   */
  readonly maxMessageLength = 10_000;
  /**
   * XMPP has no published rate limit, but servers throttle (prosody's mod_limits reads c2s at
   * about 10 kB/s) and MUC services may kick flooders: stay modest.
   */
  readonly sendRate = { perSecond: 5, burst: 10 };

  private readonly self: Self;
  /** The domain added to names given without one (`alice` → `alice@<domain>`). */
  private readonly domain: string;
  /** The connection (session, pings, confirmed sends): the link LinkedBackend starts and stops. */
  protected readonly link: Connection;
  private readonly rooms: Rooms;

  constructor(config: Config, deps: XmppDeps) {
    super(log);
    const x = requireSection(xmpp, config);
    const jidText = x.jid && !x.jid.includes("@") && x.domain ? `${x.jid}@${x.domain}` : x.jid;
    const account = jidText ? parseJid(jidText) : undefined;
    if (!account?.local) throw new ConfigError("xmpp.jid must be the bot's account, e.g. st2bot@example.com");
    const password = x.password!; // requireSection checked it
    this.self = { account, botName: config.bot.name };
    this.domain = (x.domain ?? account.domain).toLowerCase();
    this.link = new Connection(
      // Without a service URI @xmpp/client resolves the domain's SRV records, as clients should.
      { jid: account, password, service: x.service ?? account.domain, resource: account.resource || x.resource },
      deps,
      {
        stanza: (stanza) => this.onStanza(stanza),
        online: () => this.joinRooms(),
        offline: (reason) => this.rooms.reset(reason),
      },
    );
    this.rooms = new Rooms(
      x.rooms,
      config.bot.name,
      {
        send: (stanza) => this.link.send(stanza),
        request: (iq, timeoutMs) => this.link.request(iq, timeoutMs),
        isOnline: () => this.link.isOnline(),
        report: (missing) => this.link.setState("connected", missing),
      },
      deps,
    );
  }

  /**
   * Connects, sends initial presence and joins the rooms. Rejects only when the server refuses
   * the credentials (a configuration error); any other failure is retried in the background
   * with the shared backoff while `status()` says why.
   */
  override async start(onMessage: MessageHandler): Promise<void> {
    if (this.handler) throw new Error("the XMPP backend is already started");
    await super.start(onMessage);
  }

  botNames(): string[] {
    const { account, botName } = this.self;
    const names = [...new Set([botName, ...this.rooms.nicks(), account.local])];
    return [...names, ...names.map((n) => `@${n}`), account.bare];
  }

  /**
   * Resolves once the server confirmed it handled the message: its XEP-0198 stream-management
   * ack, or, on a server without it, the answer to a ping sent right behind the message. Never
   * on a socket write alone. (Delivery to the recipient has no confirmation in XMPP: XEP-0184
   * receipts depend on the recipient's client; bounces are logged when they come back.)
   */
  async send(target: Target, msg: Outgoing): Promise<void> {
    const { to, type } = destination(target, this.rooms);
    if (!this.link.isOnline()) throw new SendError("the XMPP connection is down", true);
    try {
      await this.link.sendConfirmed(buildMessage(to, type, msg), CONFIRM_TIMEOUT_MS);
    } catch (err) {
      throw new SendError(`the XMPP server did not confirm the message: ${describeError(err)}`, true);
    }
  }

  /** See targets.ts for the forms accepted. */
  async resolve(kind: "user" | "channel", value: string): Promise<Target> {
    return resolveTarget(kind, value, this.rooms, this.domain);
  }

  replyTarget(msg: Message): Target {
    if (msg.room) return { kind: "room", id: msg.room.id, name: msg.room.name };
    // Errbot answers a direct message on the full JID it came from (the same client, or the
    // same room occupant for a private message through a MUC).
    return { kind: "user", id: msg.from.st2User, name: msg.from.nick };
  }

  /** err-stackstorm: `str(msg.to)` (the room's bare JID) in a room, `str(msg.frm)` in a direct chat. */
  sourceChannel(msg: Message): string {
    return msg.room ? msg.room.id : msg.from.st2User;
  }

  private async joinRooms(): Promise<void> {
    this.link.setState("connecting", "joining rooms");
    await this.rooms.joinAll();
  }

  private onStanza(stanza: XmlElement): void {
    try {
      if (stanza.is("presence")) this.rooms.onPresence(stanza);
      else if (stanza.is("message")) this.deliver(incomingMessage(stanza, this.self, this.rooms));
    } catch (err) {
      log.error("cannot handle an XMPP stanza", { error: describeError(err) });
    }
  }
}
