/**
 * The XMPP session: connect (TCP, TLS, SASL, bind), initial presence, and XEP-0199 pings that
 * find dead TCP connections. When to connect again is the shared ReconnectingLink's (../link.ts);
 * its state is the backend's `status()`.
 */
import { client as sdkClient, xml, type XmlElement, type XmppClient } from "@xmpp/client";
import { ConfigError, describeError } from "../../lib/errors.ts";
import { type Backoff, sleep } from "../../lib/backoff.ts";
import { withTimeout } from "../../lib/timeout.ts";
import { logger, registerSecret } from "../../lib/log.ts";
import { ReconnectingLink } from "../link.ts";
import type { BackendStatus, ConnectionState } from "../types.ts";
import { isXmppError } from "./errors.ts";
import type { Jid } from "./jid.ts";
import { NS } from "./ns.ts";

/** The bot's account and where to reach its server. */
export interface Account {
  jid: Jid;
  password: string;
  /** A service URI, or a domain whose SRV records name the server. */
  service: string;
  resource: string;
}

export interface ConnectionTiming {
  backoff?: Backoff;
  /** How long one connection attempt (TCP, TLS, SASL, bind) may take. */
  connectTimeoutMs?: number;
  /** XEP-0199 pings to the server find dead TCP connections that never report a close. */
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
}

export interface ConnectionEvents {
  /** Every stanza the server sends. */
  stanza(stanza: XmlElement): void;
  /** The session is up and initial presence sent; the attempt succeeds once this resolves. */
  online(): Promise<void>;
  /** The session is gone: `disconnected` (a drop; a reconnect follows) or `stopped`. */
  offline(reason: "disconnected" | "stopped"): void;
}

const log = logger("chat.xmpp");

/** Closing may hang on a dead socket: give it a few seconds, never fail. */
const settleSoon = (closing: Promise<unknown>) => Promise.race([closing.catch(() => undefined), sleep(3_000)]);

/** One XMPP account's connection; `start` once, `stop` once. */
export class Connection {
  private client: XmppClient | undefined;
  private readonly link: ReconnectingLink;
  private closed = false;
  private lastStreamError: string | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  /** Sends waiting for their XEP-0198 ack, by the element sent. */
  private readonly awaitingAck = new Map<XmlElement, { resolve: () => void; reject: (err: Error) => void }>();
  private readonly connectTimeoutMs: number;
  private readonly pingIntervalMs: number;
  private readonly pingTimeoutMs: number;

  constructor(private readonly account: Account, timing: ConnectionTiming, private readonly events: ConnectionEvents) {
    registerSecret(account.password);
    const driver = { connect: () => this.connectOnce(), close: () => this.close() };
    this.link = new ReconnectingLink(driver, { log, describe: describeError, ...(timing.backoff ? { backoff: timing.backoff } : {}) });
    this.connectTimeoutMs = timing.connectTimeoutMs ?? 20_000;
    this.pingIntervalMs = timing.pingIntervalMs ?? 60_000;
    this.pingTimeoutMs = timing.pingTimeoutMs ?? 15_000;
  }

  /**
   * Connects and brings the session online. Rejects only when the server refuses the
   * credentials (a ConfigError); any other failure is retried in the background with the
   * shared backoff while `status()` says why.
   */
  async start(): Promise<void> {
    const { jid, password, service, resource } = this.account;
    const client = sdkClient({ service, domain: jid.domain, username: jid.local, password, resource });
    this.client = client;
    // Its reconnect module retries every second forever; we reconnect with the shared Backoff.
    client.reconnect.stop();
    client.on("error", (err) => {
      // Stream errors (e.g. `conflict`: another client logged in with our resource) explain drops.
      if (isXmppError(err, "StreamError")) {
        this.lastStreamError = describeError(err);
        log.warn(`the XMPP server closed the stream: ${this.lastStreamError}`);
      } else {
        log.debug("xmpp error", { error: describeError(err) });
      }
    });
    client.on("stanza", (stanza) => this.events.stanza(stanza));
    const sm = client.streamManagement;
    if (sm) {
      // Confirmations should come fast: the default waits 250 ms after a burst before asking.
      sm.requestAckDebounce = 20;
      sm.on("ack", (stanza) => this.settleAck(stanza));
      sm.on("fail", (stanza) => this.settleAck(stanza, new Error("the session ended before the server acknowledged the message")));
    }
    client.on("disconnect", (info) => this.onDisconnect(info?.reason));
    await this.link.start();
  }

  /** Closes the stream (the server then tells contacts and rooms we left) and stops retrying. */
  stop(): Promise<void> {
    return this.link.stop();
  }

  status(): BackendStatus {
    return this.link.status();
  }

  /** Records and logs a state (the rooms report which ones are missing through this). */
  setState(state: ConnectionState, detail?: string): void {
    this.link.setState(state, detail);
  }

  /** True while the session is up and `stop` has not been called. */
  isOnline(): boolean {
    return this.link.running && this.client?.status === "online";
  }

  /** Writes a stanza; resolves once it is on the socket (presence and joins need no more). */
  async send(stanza: XmlElement): Promise<void> {
    if (!this.client) throw new Error("not connected");
    await this.client.send(stanza);
  }

  /**
   * Writes a stanza and resolves only once the server confirmed it handled it: its XEP-0198
   * ack where the server enabled stream management, else the answer to a ping sent right after
   * (a server handles one session's stanzas in order). A socket write alone proves nothing: a
   * frozen server or a dead link takes the bytes. Rejects when the session drops first or no
   * confirmation comes within `timeoutMs`.
   */
  async sendConfirmed(stanza: XmlElement, timeoutMs: number): Promise<void> {
    const client = this.client;
    if (!client) throw new Error("not connected");
    if (!this.acksOn(client)) {
      await client.send(stanza);
      await this.roundTrip(client, timeoutMs);
      return;
    }
    const acked = new Promise<void>((resolve, reject) => this.awaitingAck.set(stanza, { resolve, reject }));
    try {
      await client.send(stanza);
      await withTimeout(acked, timeoutMs, () => new Error(`the server did not acknowledge the message within ${timeoutMs} ms`));
    } finally {
      this.awaitingAck.delete(stanza);
    }
  }

  /** Whether the server acks our stanzas (stream management enabled, or its `<enable/>` sent). */
  private acksOn(client: XmppClient): boolean {
    const sm = client.streamManagement;
    return Boolean(sm && (sm.enabled || sm.enableSent));
  }

  /** A ping's answer (an error answer too) proves the server handled everything sent before it. */
  private async roundTrip(client: XmppClient, timeoutMs: number): Promise<void> {
    const ping = xml("iq", { type: "get", to: this.account.jid.domain, id: crypto.randomUUID() }, xml("ping", { xmlns: NS.ping }));
    await client.iqCaller.request(ping, timeoutMs).catch((err: unknown) => {
      if (!isXmppError(err, "StanzaError")) throw err;
    });
  }

  /** Settles the send waiting for `stanza`'s ack (XEP-0198 hands back the element that was sent). */
  private settleAck(stanza: XmlElement, failure?: Error): void {
    const waiting = this.awaitingAck.get(stanza);
    if (!waiting) return;
    this.awaitingAck.delete(stanza);
    if (failure) waiting.reject(failure);
    else waiting.resolve();
  }

  /** Sends an iq and resolves with its result; rejects on an error reply or after `timeoutMs`. */
  async request(iq: XmlElement, timeoutMs: number): Promise<XmlElement> {
    if (!this.client) throw new Error("not connected");
    return this.client.iqCaller.request(iq, timeoutMs);
  }

  /** Once, from the link's stop: no more pings, rooms offline, the stream closed. */
  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopPing();
    this.events.offline("stopped");
    const client = this.client;
    if (client && client.status !== "offline") await settleSoon(client.stop());
  }

  /**
   * One attempt: TCP (+TLS), SASL, bind, initial presence, then the `online` work. A refused
   * login is a ConfigError; any other failure leaves the socket ready for the next attempt.
   */
  private async connectOnce(): Promise<void> {
    const client = this.client;
    if (!client || !this.link.running) throw new Error("stopped");
    this.setState("connecting", `connecting to ${this.account.service}`);
    try {
      const ready = this.sessionReady(client);
      // connect() may fail first; the failure is reported once, from there.
      ready.catch(() => undefined);
      const negotiate = async () => {
        await client.connect(this.account.service);
        await client.open({ domain: client.options.domain, lang: client.options.lang });
        await ready;
      };
      // `ready` also carries the attempt's deadline, which bounds a TCP connect that hangs.
      await Promise.race([ready, negotiate()]);
      // Initial presence: without it the server routes no bare-JID messages to this resource.
      await client.send(xml("presence"));
      await this.events.online();
      if (client.status !== "online") throw new Error("connection lost while joining rooms");
      this.startPing(client);
      log.debug(this.acksOn(client) ? "sends are confirmed by XEP-0198 acks" : "sends are confirmed by ping round trips (the server offers no XEP-0198)");
    } catch (err) {
      // Leave the socket in a clean "disconnect" state for the next attempt.
      if (this.link.running && client.status !== "disconnect" && client.status !== "offline") await settleSoon(client.disconnect());
      if (isXmppError(err, "SASLError")) throw new ConfigError(`the XMPP server refused the login of ${this.account.jid.bare}: check xmpp.jid and xmpp.password`);
      throw new Error(`cannot connect: ${this.takeStreamError() ?? describeError(err)}`);
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
        if (isXmppError(err, "SASLError")) cleanup(), reject(err);
      };
      const onDisconnect = () => (cleanup(), reject(new Error("connection closed")));
      const timer = setTimeout(() => (cleanup(), reject(new Error(`no session after ${this.connectTimeoutMs} ms`))), this.connectTimeoutMs);
      client.on("online", onOnline);
      client.on("error", onError);
      client.on("disconnect", onDisconnect);
      client.streamManagement?.on("resumed", onOnline);
    });
  }

  private onDisconnect(reason: unknown): void {
    this.stopPing();
    this.events.offline("disconnected");
    this.link.dropped(() => {
      const why = this.takeStreamError() ?? (reason ? describeError(reason) : undefined);
      return why ? `connection lost: ${why}` : "connection lost";
    });
  }

  /** The stream error that explains the latest drop, if the server sent one. */
  private takeStreamError(): string | undefined {
    const error = this.lastStreamError;
    this.lastStreamError = undefined;
    return error;
  }

  private startPing(client: XmppClient): void {
    this.stopPing();
    this.pingTimer = setInterval(() => {
      const ping = xml("iq", { type: "get", to: this.account.jid.domain, id: crypto.randomUUID() }, xml("ping", { xmlns: NS.ping }));
      client.iqCaller.request(ping, this.pingTimeoutMs).catch((err: unknown) => {
        // An error reply still proves the connection is alive; only silence means it is dead.
        if (!isXmppError(err, "TimeoutError") || client.status !== "online") return;
        log.warn("the XMPP server stopped answering pings; reconnecting");
        void client.disconnect().catch(() => undefined);
      });
    }, this.pingIntervalMs);
  }

  private stopPing(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }
}
