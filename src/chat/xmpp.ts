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
 * (Errbot's `XMPPRoomOccupant.aclattr` evaluates to the room's bare JID for every occupant, which
 * makes per-user ACLs in rooms meaningless; st2bot uses the occupant's real JID where the room
 * reveals it and the occupant JID otherwise, so a nick alone never matches a user rule.)
 */
// @ts-expect-error @xmpp/client ships no type declarations; XmppClient below covers what we use.
import { client as sdkClient, xml as sdkXml } from "@xmpp/client";
import type { Config } from "../config/schema.ts";
import { ConfigError, SendError } from "../lib/errors.ts";
import { Backoff, sleep } from "../lib/backoff.ts";
import { logger, registerSecret } from "../lib/log.ts";
import type { BackendStatus, ChatBackend, ConnectionState, Identity, Message, MessageHandler, Outgoing, Target } from "./types.ts";

// ---------------------------------------------------------------------------------------------
// The slice of @xmpp/client (0.14) this backend uses.

/** An XML element as @xmpp/xml (ltx) builds and parses it. */
export interface XmlElement {
  name: string;
  attrs: Record<string, string | undefined>;
  children: Array<XmlElement | string>;
  is(name: string, xmlns?: string): boolean;
  getChild(name: string, xmlns?: string): XmlElement | undefined;
  getChildren(name: string, xmlns?: string): XmlElement[];
  getChildText(name: string, xmlns?: string): string | null;
  getText(): string;
  toString(): string;
}

/** The @xmpp/client entity. */
export interface XmppClient {
  status: string;
  options: { domain?: string; lang?: string };
  on(event: string, listener: (...args: any[]) => void): void;
  removeListener(event: string, listener: (...args: any[]) => void): void;
  connect(service: string): Promise<void>;
  open(opts: { domain?: string; lang?: string }): Promise<unknown>;
  send(element: XmlElement): Promise<void>;
  stop(): Promise<unknown>;
  disconnect(): Promise<unknown>;
  reconnect: { stop(): void };
  iqCaller: { request(stanza: XmlElement, timeoutMs?: number): Promise<XmlElement> };
  streamManagement?: { on(event: string, listener: () => void): void; removeListener(event: string, listener: () => void): void };
}

export interface XmppClientOptions {
  service: string;
  domain: string;
  username: string;
  password: string;
  resource: string;
}

type XmlChild = XmlElement | string | undefined | false;
/** Builds an element; text children are escaped by the builder, never concatenated as markup. */
export const xml = sdkXml as (name: string, attrs?: Record<string, string> | null, ...children: XmlChild[]) => XmlElement;

export const NS = {
  muc: "http://jabber.org/protocol/muc",
  mucUser: "http://jabber.org/protocol/muc#user",
  mucOwner: "http://jabber.org/protocol/muc#owner",
  dataForms: "jabber:x:data",
  delay: "urn:xmpp:delay",
  legacyDelay: "jabber:x:delay",
  xhtmlIm: "http://jabber.org/protocol/xhtml-im",
  xhtml: "http://www.w3.org/1999/xhtml",
  ping: "urn:xmpp:ping",
  stanzas: "urn:ietf:params:xml:ns:xmpp-stanzas",
} as const;

// ---------------------------------------------------------------------------------------------
// JIDs

/** A parsed JID; `local` and `domain` are lower-cased (they compare case-insensitively). */
export interface Jid {
  local: string;
  domain: string;
  resource: string;
  /** `local@domain` (or `domain`). */
  bare: string;
  /** `bare/resource`, or `bare` without a resource. */
  full: string;
}

const BAD_LOCAL = /["&'/:<>@\s]/;

/** Parses `[local@]domain[/resource]`; undefined when it is not a JID. */
export function parseJid(text: string): Jid | undefined {
  const value = text.trim();
  const slash = value.indexOf("/");
  const resource = slash >= 0 ? value.slice(slash + 1) : "";
  const bareText = slash >= 0 ? value.slice(0, slash) : value;
  const at = bareText.indexOf("@");
  const local = at >= 0 ? bareText.slice(0, at).toLowerCase() : "";
  const domain = (at >= 0 ? bareText.slice(at + 1) : bareText).toLowerCase();
  if (!domain || /[@\s/]/.test(domain) || (at >= 0 && (!local || BAD_LOCAL.test(local)))) return undefined;
  if (slash >= 0 && !resource) return undefined;
  const bare = local ? `${local}@${domain}` : domain;
  return { local, domain, resource, bare, full: resource ? `${bare}/${resource}` : bare };
}

// ---------------------------------------------------------------------------------------------
// Formatting

/**
 * Plain text for XMPP bodies, from the Slack/markdown-flavoured text StackStorm templates use.
 * Only what would look broken is removed: code fences (the code stays, verbatim), `**bold**`
 * markers and link syntax (`<url|label>`, `[label](url)` become `label (url)`). Single `*`, `_`
 * and backticks stay: they are often part of globs, identifiers and commands.
 */
export function toPlainText(text: string): string {
  const out: string[] = [];
  let inCode = false;
  for (const line of text.split("\n")) {
    if (/^\s*```[\w+#.-]*\s*$/.test(line)) {
      inCode = !inCode;
      continue;
    }
    out.push(inCode ? line : plainLine(line));
  }
  return out.join("\n");
}

const link = (url: string, label: string) => (label === url ? url : `${label} (${url})`);

function plainLine(line: string): string {
  return line
    .replace(/```([^`]+)```/g, "$1")
    .replace(/<((?:https?|mailto):[^|>\s]+)\|([^>]+)>/g, (_, url: string, label: string) => link(url, label))
    .replace(/<((?:https?|mailto):[^|>\s]+)>/g, "$1")
    .replace(/\[([^\]]+)\]\(((?:https?|mailto):[^)\s]+)\)/g, (_, label: string, url: string) => link(url, label))
    .replace(/\*\*(?=\S)(.+?)(?<=\S)\*\*/g, "$1");
}

/** Slack's named attachment colours, which StackStorm packs often put in `extra`. */
const NAMED_COLORS: Record<string, string> = { good: "#2eb886", warning: "#daa038", danger: "#a30200" };

/**
 * The colour `extra` asks for (`extra.color`, or `extra.slack.color` from Slack-first packs), as a
 * CSS value safe to put in a style attribute; undefined when absent or not a plain colour.
 */
export function messageColor(extra: Record<string, unknown> | undefined): string | undefined {
  const slack = extra?.slack;
  const raw = extra?.color ?? (slack && typeof slack === "object" ? (slack as Record<string, unknown>).color : undefined);
  if (typeof raw !== "string") return undefined;
  const value = raw.trim();
  if (NAMED_COLORS[value.toLowerCase()]) return NAMED_COLORS[value.toLowerCase()];
  if (/^#?(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(value)) return value.startsWith("#") ? value : `#${value}`;
  if (/^[a-z]{3,20}$/i.test(value)) return value.toLowerCase();
  return undefined;
}

/** The XEP-0071 payload: the same plain text, coloured, lines kept with `<br/>`. */
export function xhtmlIm(plain: string, color: string): XmlElement {
  const children: XmlChild[] = [];
  plain.split("\n").forEach((line, i) => {
    if (i > 0) children.push(xml("br"));
    if (line) children.push(line);
  });
  return xml("html", { xmlns: NS.xhtmlIm }, xml("body", { xmlns: NS.xhtml }, xml("p", null, xml("span", { style: `color: ${color}` }, ...children))));
}

/** A `<message>` stanza carrying `msg` as plain text, plus XHTML-IM when `extra` has a colour. */
export function buildMessage(to: string, type: "chat" | "groupchat", msg: Outgoing): XmlElement {
  const plain = toPlainText(msg.text);
  const color = messageColor(msg.extra);
  return xml("message", { to, type, id: crypto.randomUUID() }, xml("body", null, plain), color !== undefined && xhtmlIm(plain, color));
}

// ---------------------------------------------------------------------------------------------
// The backend

/** Injectables for tests; production uses the defaults. */
export interface XmppDeps {
  createClient?: (opts: XmppClientOptions) => XmppClient;
  backoff?: Backoff;
  /** How long one connection attempt (TCP, TLS, SASL, bind) may take. */
  connectTimeoutMs?: number;
  /** How long to wait for a room to confirm a join. */
  joinTimeoutMs?: number;
  /** Rooms that could not be joined are tried again after this long. */
  joinRetryMs?: number;
  /** XEP-0199 pings to the server find dead TCP connections that never report a close. */
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
}

interface RoomState {
  jid: string;
  password?: string;
  nick: string;
  /** The nick the room confirmed (it may differ after a conflict). */
  currentNick?: string;
  joined: boolean;
  lastError?: string;
}

interface PendingJoin {
  nick: string;
  resolve(result: { nick: string; created: boolean }): void;
  reject(err: JoinError): void;
}

class JoinError extends Error {
  constructor(readonly condition: string) {
    super(condition);
  }
}

/** Creates the XMPP backend from `[xmpp]`; throws ConfigError when the account is incomplete. */
export function createXmppBackend(config: Config, deps: XmppDeps = {}): ChatBackend {
  return new XmppBackend(config, deps);
}

const log = logger("chat.xmpp");
const describeError = (err: unknown) => (err instanceof Error ? err.message || err.name : String(err));

class XmppBackend implements ChatBackend {
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

  private readonly account: Jid;
  private readonly password: string;
  private readonly service: string;
  /** The domain added to names given without one (`alice` → `alice@<domain>`). */
  private readonly domain: string;
  private readonly resource: string;
  private readonly botName: string;
  private readonly rooms = new Map<string, RoomState>();
  /** Occupant JID → real bare JID, where the room reveals it. */
  private readonly occupants = new Map<string, string | undefined>();
  private readonly pendingJoins = new Map<string, PendingJoin>();
  private readonly backoff: Backoff;
  private readonly createClient: (opts: XmppClientOptions) => XmppClient;
  private readonly connectTimeoutMs: number;
  private readonly joinTimeoutMs: number;
  private readonly joinRetryMs: number;
  private readonly pingIntervalMs: number;
  private readonly pingTimeoutMs: number;

  private client: XmppClient | undefined;
  private onMessage: MessageHandler = () => undefined;
  private state: BackendStatus = { state: "disconnected", detail: "not started", since: Date.now() };
  private stopped = false;
  private readonly abort = new AbortController();
  /** True while one connection attempt runs; its failures are handled by whoever started it. */
  private attempting = false;
  private reconnecting = false;
  private lastStreamError: string | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private rejoinTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(config: Config, deps: XmppDeps) {
    const x = config.xmpp;
    const jidText = x.jid && !x.jid.includes("@") && x.domain ? `${x.jid}@${x.domain}` : x.jid;
    const account = jidText ? parseJid(jidText) : undefined;
    if (!account?.local) throw new ConfigError("xmpp.jid must be the bot's account, e.g. st2bot@example.com");
    if (!x.password) throw new ConfigError("xmpp.password (or xmpp.password_file) is required for the XMPP backend");
    registerSecret(x.password);
    this.account = account;
    this.password = x.password;
    this.domain = (x.domain ?? account.domain).toLowerCase();
    // Without a service URI @xmpp/client resolves the domain's SRV records, as clients should.
    this.service = x.service ?? account.domain;
    this.resource = account.resource || x.resource;
    this.botName = config.bot.name;
    for (const room of x.rooms) {
      const jid = parseJid(room.jid);
      if (!jid?.local || jid.resource) throw new ConfigError(`xmpp.rooms: "${room.jid}" is not a room JID such as ops@conference.example.com`);
      registerSecret(room.password);
      this.rooms.set(jid.bare, { jid: jid.bare, password: room.password, nick: room.nick ?? this.botName, joined: false });
    }
    this.backoff = deps.backoff ?? new Backoff();
    this.createClient = deps.createClient ?? ((opts) => sdkClient(opts) as XmppClient);
    this.connectTimeoutMs = deps.connectTimeoutMs ?? 20_000;
    this.joinTimeoutMs = deps.joinTimeoutMs ?? 10_000;
    this.joinRetryMs = deps.joinRetryMs ?? 30_000;
    this.pingIntervalMs = deps.pingIntervalMs ?? 60_000;
    this.pingTimeoutMs = deps.pingTimeoutMs ?? 15_000;
  }

  // --- lifecycle -------------------------------------------------------------------------------

  /**
   * Connects, sends initial presence and joins the rooms. Rejects only when the server refuses
   * the credentials (a configuration error); any other failure is retried in the background
   * with the shared backoff while `status()` says why.
   */
  async start(onMessage: MessageHandler): Promise<void> {
    if (this.client) throw new Error("the XMPP backend is already started");
    this.onMessage = onMessage;
    const client = this.createClient({
      service: this.service,
      domain: this.account.domain,
      username: this.account.local,
      password: this.password,
      resource: this.resource,
    });
    this.client = client;
    // Its reconnect module retries every second forever; we reconnect with the shared Backoff.
    client.reconnect.stop();
    client.on("error", (err: unknown) => {
      // Stream errors (e.g. `conflict`: another client logged in with our resource) explain drops.
      if (err instanceof Error && err.name === "StreamError") {
        this.lastStreamError = describeError(err);
        log.warn(`the XMPP server closed the stream: ${this.lastStreamError}`);
      } else {
        log.debug("xmpp error", { error: describeError(err) });
      }
    });
    client.on("stanza", (stanza: XmlElement) => this.onStanza(stanza));
    client.on("disconnect", (info?: { reason?: unknown }) => this.onDisconnect(info?.reason));
    const outcome = await this.connectOnce();
    if (outcome.ok) return;
    if (outcome.refused) {
      await this.stop();
      throw new ConfigError(`the XMPP server refused the login of ${this.account.bare}: check xmpp.jid and xmpp.password`);
    }
    void this.reconnectLoop(outcome.reason);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    this.clearTimers();
    for (const pending of this.pendingJoins.values()) pending.reject(new JoinError("stopped"));
    const client = this.client;
    if (client && client.status !== "offline") {
      // Closing the stream makes the server send our unavailable presence to contacts and rooms.
      await Promise.race([client.stop().catch(() => undefined), sleep(3_000)]);
    }
    this.setState("stopped");
  }

  status(): BackendStatus {
    return this.state;
  }

  private setState(state: ConnectionState, detail?: string): void {
    if (this.state.state === state && this.state.detail === detail) return;
    const changed = this.state.state !== state;
    this.state = { state, detail, since: changed ? Date.now() : this.state.since };
    const line = `xmpp ${state}${detail ? `: ${detail}` : ""}`;
    if (state === "disconnected") log.warn(line);
    else if (state === "connecting") log.debug(line);
    else log.info(line);
  }

  /** One attempt: TCP (+TLS), SASL, bind, initial presence, room joins. */
  private async connectOnce(): Promise<{ ok: true } | { ok: false; refused: boolean; reason: string }> {
    const client = this.client;
    if (!client || this.stopped) return { ok: false, refused: false, reason: "stopped" };
    this.attempting = true;
    this.setState("connecting", `connecting to ${this.service}`);
    try {
      const ready = this.sessionReady(client);
      // connect() may fail first; the failure is reported once, from there.
      ready.catch(() => undefined);
      const negotiate = async () => {
        await client.connect(this.service);
        await client.open({ domain: client.options.domain, lang: client.options.lang });
        await ready;
      };
      // `ready` also carries the attempt's deadline, which bounds a TCP connect that hangs.
      await Promise.race([ready, negotiate()]);
      await this.afterOnline(client);
      this.backoff.reset();
      return { ok: true };
    } catch (err) {
      const refused = err instanceof Error && err.name === "SASLError";
      // Leave the socket in a clean "disconnect" state for the next attempt.
      if (!this.stopped && client.status !== "disconnect" && client.status !== "offline") {
        await Promise.race([client.disconnect().catch(() => undefined), sleep(3_000)]);
      }
      const reason = refused ? "login refused: check xmpp.jid and xmpp.password" : `cannot connect: ${this.takeStreamError() ?? describeError(err)}`;
      return { ok: false, refused, reason };
    } finally {
      this.attempting = false;
    }
  }

  /** Resolves when the session is usable ("online", or resumed by XEP-0198); rejects on failure. */
  private sessionReady(client: XmppClient): Promise<void> {
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        client.removeListener("online", onOnline);
        client.removeListener("error", onError);
        client.removeListener("disconnect", onDisconnect);
        client.streamManagement?.removeListener("resumed", onOnline);
      };
      const onOnline = () => (cleanup(), resolve());
      const onError = (err: unknown) => {
        if (err instanceof Error && err.name === "SASLError") cleanup(), reject(err);
      };
      const onDisconnect = () => (cleanup(), reject(new Error("connection closed")));
      const timer = setTimeout(() => (cleanup(), reject(new Error(`no session after ${this.connectTimeoutMs} ms`))), this.connectTimeoutMs);
      client.on("online", onOnline);
      client.on("error", onError);
      client.on("disconnect", onDisconnect);
      client.streamManagement?.on("resumed", onOnline);
    });
  }

  private async afterOnline(client: XmppClient): Promise<void> {
    // Initial presence: without it the server routes no bare-JID messages to this resource.
    await client.send(xml("presence"));
    this.setState("connecting", "joining rooms");
    await this.joinRooms();
    if (client.status !== "online") throw new Error("connection lost while joining rooms");
    this.startPing(client);
  }

  private onDisconnect(reason: unknown): void {
    this.stopPing();
    clearTimeout(this.rejoinTimer);
    for (const room of this.rooms.values()) room.joined = false;
    this.occupants.clear();
    for (const pending of this.pendingJoins.values()) pending.reject(new JoinError("disconnected"));
    if (this.stopped || this.attempting) return;
    const why = this.takeStreamError() ?? (reason ? describeError(reason) : undefined);
    void this.reconnectLoop(why ? `connection lost: ${why}` : "connection lost");
  }

  /** The stream error that explains the latest drop, if the server sent one. */
  private takeStreamError(): string | undefined {
    const error = this.lastStreamError;
    this.lastStreamError = undefined;
    return error;
  }

  private async reconnectLoop(reason: string): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      while (!this.stopped && this.client?.status !== "online") {
        const delay = this.backoff.next();
        this.setState("disconnected", `${reason}; retrying in ${delay} ms`);
        await sleep(delay, this.abort.signal);
        if (this.stopped) break;
        const outcome = await this.connectOnce();
        if (!outcome.ok) reason = outcome.reason;
      }
    } finally {
      this.reconnecting = false;
    }
  }

  private startPing(client: XmppClient): void {
    this.stopPing();
    this.pingTimer = setInterval(() => {
      const ping = xml("iq", { type: "get", to: this.account.domain, id: crypto.randomUUID() }, xml("ping", { xmlns: NS.ping }));
      client.iqCaller.request(ping, this.pingTimeoutMs).catch((err: unknown) => {
        // An error reply still proves the connection is alive; only silence means it is dead.
        if (!(err instanceof Error) || err.name !== "TimeoutError" || client.status !== "online") return;
        log.warn("the XMPP server stopped answering pings; reconnecting");
        void client.disconnect().catch(() => undefined);
      });
    }, this.pingIntervalMs);
  }

  private stopPing(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  private clearTimers(): void {
    this.stopPing();
    clearTimeout(this.rejoinTimer);
  }

  // --- rooms -----------------------------------------------------------------------------------

  /** Joins every room not joined yet; the state's detail names the ones that failed. */
  private async joinRooms(): Promise<void> {
    const missing = [...this.rooms.values()].filter((r) => !r.joined);
    await Promise.all(missing.map((room) => this.joinRoom(room)));
    if (this.stopped || this.client?.status !== "online") return;
    const failed = [...this.rooms.values()].filter((r) => !r.joined);
    this.setState("connected", failed.length ? `not in ${failed.map((r) => `${r.jid} (${r.lastError})`).join(", ")}; retrying` : undefined);
    clearTimeout(this.rejoinTimer);
    if (failed.length) this.rejoinTimer = setTimeout(() => void this.joinRooms(), this.joinRetryMs);
  }

  private async joinRoom(room: RoomState): Promise<void> {
    let nick = room.nick;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const { nick: confirmed, created } = await this.requestJoin(room, nick);
        room.joined = true;
        room.currentNick = confirmed;
        room.lastError = undefined;
        if (created) await this.configureNewRoom(room);
        log.info(`joined ${room.jid} as ${confirmed}`);
        return;
      } catch (err) {
        const condition = err instanceof JoinError ? err.condition : describeError(err);
        // Someone (often our own ghost from before a drop) holds the nick: take a variant.
        if (condition === "conflict") {
          nick = `${nick}_`;
          continue;
        }
        // Retries repeat the same refusal: say it once per change, not every retry.
        if (condition !== room.lastError && condition !== "disconnected" && condition !== "stopped") log.warn(`cannot join ${room.jid}: ${condition}`);
        room.lastError = condition;
        return;
      }
    }
    room.lastError = "nick in use";
  }

  /** Sends the join presence (with the password, asking for no history) and waits for the room. */
  private requestJoin(room: RoomState, nick: string): Promise<{ nick: string; created: boolean }> {
    const client = this.client;
    if (!client) return Promise.reject(new JoinError("not connected"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => settle(() => reject(new JoinError("the room did not answer"))), this.joinTimeoutMs);
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        if (this.pendingJoins.get(room.jid) === pending) this.pendingJoins.delete(room.jid);
        fn();
      };
      const pending: PendingJoin = {
        nick,
        resolve: (result) => settle(() => resolve(result)),
        reject: (err) => settle(() => reject(err)),
      };
      this.pendingJoins.get(room.jid)?.reject(new JoinError("superseded"));
      this.pendingJoins.set(room.jid, pending);
      const x = xml(
        "x",
        { xmlns: NS.muc },
        xml("history", { maxstanzas: "0" }),
        room.password !== undefined && xml("password", null, room.password),
      );
      client.send(xml("presence", { to: `${room.jid}/${nick}` }, x)).catch((err: unknown) => pending.reject(new JoinError(describeError(err))));
    });
  }

  /**
   * We created the room (status 201), so it is locked until configured: make it usable, with
   * the configured password if there is one.
   */
  private async configureNewRoom(room: RoomState): Promise<void> {
    const field = (name: string, value: string) => xml("field", { var: name }, xml("value", null, value));
    const form = xml(
      "x",
      { xmlns: NS.dataForms, type: "submit" },
      field("FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig"),
      room.password !== undefined && field("muc#roomconfig_passwordprotectedroom", "1"),
      room.password !== undefined && field("muc#roomconfig_roomsecret", room.password),
    );
    const iq = xml("iq", { type: "set", to: room.jid, id: crypto.randomUUID() }, xml("query", { xmlns: NS.mucOwner }, form));
    await this.client?.iqCaller.request(iq, this.joinTimeoutMs).catch((err: unknown) => log.warn(`cannot configure the new room ${room.jid}: ${describeError(err)}`));
  }

  // --- incoming --------------------------------------------------------------------------------

  private onStanza(stanza: XmlElement): void {
    try {
      if (stanza.is("presence")) this.onPresence(stanza);
      else if (stanza.is("message")) this.onMessageStanza(stanza);
    } catch (err) {
      log.error("cannot handle an XMPP stanza", { error: describeError(err) });
    }
  }

  private onPresence(stanza: XmlElement): void {
    const from = parseJid(stanza.attrs.from ?? "");
    const room = from && this.rooms.get(from.bare);
    if (!from || !room) return;
    const type = stanza.attrs.type;
    const pending = this.pendingJoins.get(room.jid);
    if (type === "error") {
      pending?.reject(new JoinError(errorCondition(stanza)));
      return;
    }
    if (!from.resource) return;
    const x = stanza.getChild("x", NS.mucUser);
    const codes = new Set((x?.getChildren("status") ?? []).map((s) => s.attrs.code));
    const self = codes.has("110");
    if (type === "unavailable") {
      this.occupants.delete(from.full);
      if (self && room.joined && codes.has("303") === false) this.leftRoom(room, codes);
      return;
    }
    const realJid = x?.getChild("item")?.attrs.jid;
    this.occupants.set(from.full, realJid ? parseJid(realJid)?.bare : undefined);
    if (self) {
      room.currentNick = from.resource;
      pending?.resolve({ nick: from.resource, created: codes.has("201") });
    }
  }

  /** The room removed us (kick, ban, shutdown): mark it and try again later. */
  private leftRoom(room: RoomState, codes: Set<string | undefined>): void {
    room.joined = false;
    room.lastError = codes.has("301") ? "banned" : codes.has("307") ? "kicked" : "removed from the room";
    log.warn(`no longer in ${room.jid}: ${room.lastError}`);
    clearTimeout(this.rejoinTimer);
    this.rejoinTimer = setTimeout(() => void this.joinRooms(), this.joinRetryMs);
  }

  private onMessageStanza(stanza: XmlElement): void {
    const type = stanza.attrs.type ?? "normal";
    // Headlines are notifications (pubsub, broadcasts), never someone talking to the bot.
    if (type === "headline") return;
    if (type === "error") {
      // A bounce (offline user, unknown occupant): no send can be failed after the fact, so say it.
      log.warn(`the XMPP server bounced a message to ${stanza.attrs.from}: ${errorCondition(stanza)}`);
      return;
    }
    const body = stanza.getChildText("body");
    const from = parseJid(stanza.attrs.from ?? "");
    if (!body?.trim() || !from) return;
    // History replayed by a room on join, or offline messages: never run old commands again.
    if (stanza.getChild("delay", NS.delay) || stanza.getChild("x", NS.legacyDelay)) return;
    // Room invitations carry a human-readable body but are not commands.
    const mucUser = stanza.getChild("x", NS.mucUser);
    if (mucUser?.getChild("invite") || mucUser?.getChild("decline") || stanza.getChild("x", "jabber:x:conference")) return;
    const message = type === "groupchat" ? this.roomMessage(from, body) : this.directMessage(from, body);
    if (!message) return;
    message.raw = stanza;
    void Promise.resolve()
      .then(() => this.onMessage(message))
      .catch((err: unknown) => log.error("the message handler failed", { error: describeError(err) }));
  }

  private roomMessage(from: Jid, body: string): Message | undefined {
    const room = this.rooms.get(from.bare);
    // Messages from the room itself (no nick) are server notices; our own nick is our echo.
    if (!room || !from.resource || from.resource === room.currentNick) return undefined;
    const { text, mentioned } = stripMention(body, this.namesIn(room));
    return { text, from: this.occupantIdentity(from), room: { id: room.jid, name: room.jid }, direct: false, mentioned };
  }

  private directMessage(from: Jid, body: string): Message | undefined {
    // Our own resources and server notices (no local part) are not people talking to the bot.
    if (from.bare === this.account.bare || !from.local) return undefined;
    const room = this.rooms.get(from.bare);
    if (room && (!from.resource || from.resource === room.currentNick)) return undefined;
    const identity = room ? this.occupantIdentity(from) : dmIdentity(from);
    const { text, mentioned } = stripMention(body, room ? this.namesIn(room) : this.baseNames());
    return { text, from: identity, direct: true, mentioned };
  }

  private occupantIdentity(from: Jid): Identity {
    const real = this.occupants.get(from.full);
    return { id: from.full, nick: from.resource, aclId: real ?? from.full, st2User: from.full };
  }

  private baseNames(): string[] {
    return [this.botName, this.account.local, this.account.bare];
  }

  private namesIn(room: RoomState): string[] {
    return room.currentNick ? [room.currentNick, ...this.baseNames()] : this.baseNames();
  }

  botNames(): string[] {
    const nicks = [...this.rooms.values()].map((r) => r.currentNick ?? r.nick);
    const names = [...new Set([this.botName, ...nicks, this.account.local])];
    return [...names, ...names.map((n) => `@${n}`), this.account.bare];
  }

  // --- outgoing --------------------------------------------------------------------------------

  /**
   * Writes the stanza and resolves once it is on the socket. XMPP has no per-message
   * confirmation (a MUC does not ack, XEP-0184 receipts depend on the recipient's client), so
   * this is the strongest promise the protocol makes; bounces are logged when they come back.
   */
  async send(target: Target, msg: Outgoing): Promise<void> {
    const { to, type } = this.destination(target);
    const client = this.client;
    if (!client || client.status !== "online") throw new SendError("the XMPP connection is down", true);
    try {
      await client.send(buildMessage(to, type, msg));
    } catch (err) {
      throw new SendError(`cannot write to the XMPP connection: ${describeError(err)}`, true);
    }
  }

  private destination(target: Target): { to: string; type: "chat" | "groupchat" } {
    const jid = parseJid(target.id);
    if (!jid) throw new SendError(`"${target.id}" is not an XMPP address`, false);
    const room = this.rooms.get(jid.bare);
    if (target.kind === "room") {
      if (!room || jid.resource) throw new SendError(`${target.id} is not one of the configured rooms`, false);
      if (!room.joined) throw new SendError(`not in ${room.jid} at the moment${room.lastError ? ` (${room.lastError})` : ""}`, true);
      return { to: room.jid, type: "groupchat" };
    }
    if (room) {
      if (!jid.resource) throw new SendError(`${target.id} is a room, not a person`, false);
      // A private message to an occupant goes through the room, so we must be in it.
      if (!room.joined) throw new SendError(`not in ${room.jid} at the moment`, true);
    }
    return { to: jid.full, type: "chat" };
  }

  /**
   * Users: `alice`, `@alice` (the configured domain is added), `alice@host`, `alice@host/res`,
   * and room occupants `room@conf.host/nick` (a private message through the room). Channels:
   * configured rooms by JID, local part or `#name`; occupant and person JIDs (err-stackstorm's
   * `source_channel` of a private chat) resolve to that person.
   */
  async resolve(kind: "user" | "channel", value: string): Promise<Target> {
    const text = value.trim().replace(/^xmpp:/i, "");
    if (!text) throw new SendError(`no XMPP ${kind} given`, false);
    if (kind === "channel") {
      const room = this.findRoom(text);
      if (room) return { kind: "room", id: room.jid, name: room.jid };
      // Not a room: err-stackstorm's source_channel of a private chat is the person's JID.
      const jid = text.includes("@") ? parseJid(text) : undefined;
      if (!jid || (this.isMucDomain(jid.domain) && !jid.resource)) throw new SendError(`"${value}" is not one of the configured XMPP rooms`, false);
      return this.userTarget(jid, value);
    }
    const name = text.replace(/^@/, "");
    const jid = parseJid(name.includes("@") ? name : `${name}@${this.domain}`);
    if (!jid) throw new SendError(`"${value}" is not an XMPP address`, false);
    return this.userTarget(jid, value);
  }

  private userTarget(jid: Jid, value: string): Target {
    const room = this.rooms.get(jid.bare);
    if (room && !jid.resource) throw new SendError(`"${value}" is a room, not a person`, false);
    if (!room && this.isMucDomain(jid.domain)) throw new SendError(`"${value}" is in a room st2bot is not configured for`, false);
    return { kind: "user", id: jid.full, name: room ? jid.resource : jid.bare };
  }

  private findRoom(text: string): RoomState | undefined {
    const name = text.replace(/^#/, "").toLowerCase();
    if (name.includes("@")) {
      const jid = parseJid(name);
      return jid && !jid.resource ? this.rooms.get(jid.bare) : undefined;
    }
    return [...this.rooms.values()].find((r) => r.jid.split("@")[0] === name);
  }

  private isMucDomain(domain: string): boolean {
    return [...this.rooms.values()].some((r) => r.jid.endsWith(`@${domain}`));
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
}

function dmIdentity(from: Jid): Identity {
  return { id: from.bare, nick: from.local || from.domain, aclId: from.bare, st2User: from.full };
}

/** The defined condition of an error stanza (`not-authorized`, `conflict`, ...). */
function errorCondition(stanza: XmlElement): string {
  const error = stanza.getChild("error");
  const condition = error?.children.find((c): c is XmlElement => typeof c !== "string" && c.attrs.xmlns === NS.stanzas && c.name !== "text");
  return condition?.name ?? "unknown error";
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** `st2bot: deploy x`, `@st2bot deploy x`, `st2bot, deploy x` → `deploy x`, mentioned. */
export function stripMention(body: string, names: string[]): { text: string; mentioned: boolean } {
  const text = body.trim();
  const alternatives = names.filter(Boolean).map(escapeRegExp).join("|");
  const match = alternatives ? new RegExp(`^@?(?:${alternatives})(?:[:,]\\s*|\\s+)`, "i").exec(text) : null;
  return match ? { text: text.slice(match[0].length).trim(), mentioned: true } : { text, mentioned: false };
}
