/**
 * The IRC session (irc-framework): connect (TCP or TLS), register (PASS, SASL PLAIN, NICK with
 * `st2bot_`-style fallbacks when the nick is taken), identify to NickServ, join the channels
 * with their keys, and rejoin them after every reconnect and after a kick. When to connect again
 * is the shared ReconnectingLink's (../link.ts); its state is the backend's `status()`.
 */
import { Client, type IrcMessage, type PrivmsgEvent } from "irc-framework";
import { type Backoff, sleep } from "../../lib/backoff.ts";
import { ConfigError } from "../../lib/errors.ts";
import { logger, registerSecret } from "../../lib/log.ts";
import { ReconnectingLink } from "../link.ts";
import type { BackendStatus } from "../types.ts";
import { Channels } from "./channels.ts";
import { Owners } from "./owners.ts";
import type { OwnMask } from "./lines.ts";
import { Sender } from "./sender.ts";
import type { IrcChannel } from "./settings.ts";

/** Where and who: everything one registration needs. */
export interface Account {
  host: string;
  port: number;
  tls: boolean;
  tlsVerify: boolean;
  nick: string;
  username: string;
  realname: string;
  serverPassword?: string;
  sasl?: { account: string; password: string };
  nickservPassword?: string;
  channels: IrcChannel[];
  linesPerSecond: number;
}

/** Timings, injectable so tests run fast; production uses the defaults. */
export interface ConnectionTiming {
  backoff?: Backoff;
  /** How long TCP, TLS and registration may take. */
  connectTimeoutMs?: number;
  /** How long to wait for the channels' JOIN answers before reporting the missing ones. */
  joinTimeoutMs?: number;
  /** How long a PONG may take (keepalive and send confirmation) before the connection is dead. */
  pongTimeoutMs?: number;
  /** After a kick or a refused JOIN, and to take the wanted nick back: how often to try again. */
  retryMs?: number;
}

const log = logger("chat.irc");

/** The nicks to try, in order, when the wanted one is taken: `st2bot_`, `st2bot__`, then digits. */
export function alternateNicks(nick: string): string[] {
  const short = nick.slice(0, 6);
  return [`${nick}_`, `${nick}__`, `${short}${Math.floor(100 + Math.random() * 900)}`];
}

/** QUIT with `reason` and wait (briefly) for the server to close, then drop the socket whatever happened. */
export async function quit(client: Client, reason: string): Promise<void> {
  if (client.connection.connected) {
    const closed = new Promise<void>((resolve) => client.on("close", () => resolve()));
    client.quit(reason);
    await Promise.race([closed, sleep(2_000)]);
  }
  client.connection.end();
  client.removeAllListeners();
}

/** One IRC account's connection; `start` once, `stop` once. */
export class Connection {
  readonly sender: Sender;
  readonly channels: Channels;
  /** Who holds the nicks people spoke from (see owners.ts). */
  readonly owners = new Owners();
  private client: Client | undefined;
  private readonly link: ReconnectingLink;
  private self: OwnMask;
  private registered = false;
  private retryTimer: ReturnType<typeof setInterval> | undefined;
  private readonly timing: Required<Omit<ConnectionTiming, "backoff">>;

  constructor(private readonly account: Account, timing: ConnectionTiming, private readonly onPrivmsg: (e: PrivmsgEvent) => void) {
    for (const secret of [account.serverPassword, account.sasl?.password, account.nickservPassword, ...account.channels.map((c) => c.key)]) {
      if (secret) registerSecret(secret);
    }
    this.self = { nick: account.nick };
    this.channels = new Channels(account.channels);
    this.timing = { connectTimeoutMs: 20_000, joinTimeoutMs: 10_000, pongTimeoutMs: 60_000, retryMs: 30_000, ...timing };
    this.sender = new Sender(
      {
        write: (lines) => this.client?.connection.write(lines.join("\r\n")),
        unresponsive: () => this.client?.connection.end(),
        truncated: (target, lost) => log.warn(`the IRC server cut a line to ${target} by ${lost} bytes; the following lines are made shorter`),
      },
      { linesPerSecond: account.linesPerSecond, pongTimeoutMs: this.timing.pongTimeoutMs },
    );
    const driver = { connect: () => this.connectOnce(), close: () => this.close() };
    this.link = new ReconnectingLink(driver, { log, ...(timing.backoff ? { backoff: timing.backoff } : {}) });
  }

  /** Connects; rejects only when the server refuses the credentials (a ConfigError). */
  start(): Promise<void> {
    return this.link.start();
  }

  stop(): Promise<void> {
    return this.link.stop();
  }

  status(): BackendStatus {
    return this.link.status();
  }

  /** True while registered and `stop` has not been called. */
  isOnline(): boolean {
    return this.link.running && this.registered;
  }

  /** The bot's nick and, once the server showed it, its user and host (for line budgets). */
  mask(): OwnMask {
    return { ...this.self };
  }

  /** Once, from the link's stop: QUIT, then the socket closed. */
  private async close(): Promise<void> {
    clearInterval(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    this.lost("stopped");
    if (client) await quit(client, "st2bot stopping");
  }

  private lost(reason: string): void {
    this.registered = false;
    this.sender.reset(reason);
    this.channels.reset();
  }

  /** One attempt: socket, registration, NickServ, joins. */
  private async connectOnce(): Promise<string | void> {
    if (!this.link.running) throw new Error("stopped");
    const old = this.client;
    old?.removeAllListeners();
    old?.connection.end();
    const a = this.account;
    this.link.setState("connecting", `connecting to ${a.host}:${a.port}${a.tls ? " (TLS)" : ""}`);
    const client = new Client();
    this.client = client;
    this.self = { nick: a.nick };
    const registered = this.registration(client);
    client.connect({
      host: a.host,
      port: a.port,
      tls: a.tls,
      rejectUnauthorized: a.tlsVerify,
      nick: a.nick,
      username: a.username,
      gecos: a.realname,
      ...(a.serverPassword ? { password: a.serverPassword } : {}),
      // `{}` keeps irc-framework from sending the server password as SASL credentials.
      account: a.sasl ? { account: a.sasl.account, password: a.sasl.password } : {},
      sasl_disconnect_on_fail: true,
      // Where offered, the server's echo of each line shows what it relayed (see sender.ts).
      enable_echomessage: true,
      // CTCP VERSION gets a polite answer that names no version (nothing to fingerprint).
      version: "st2bot",
      // The link reconnects, with the shared backoff; irc-framework's own loop stays off.
      auto_reconnect: false,
      ping_interval: 30,
      ping_timeout: Math.ceil(this.timing.pongTimeoutMs / 1000),
    });
    try {
      await registered;
    } catch (err) {
      client.removeAllListeners();
      client.connection.end();
      throw err;
    }
    this.registered = true;
    if (a.nickservPassword) client.connection.write(`PRIVMSG NickServ :IDENTIFY ${a.nick} ${a.nickservPassword}`);
    this.sender.start(client.network.cap.isEnabled("echo-message"));
    client.on("close", () => this.onClose(client));
    for (const line of this.channels.joinLines()) client.connection.write(line);
    const { missing } = await this.channels.settled(this.timing.joinTimeoutMs);
    // A close during the joins was ignored by the link (an attempt was running): fail the attempt.
    if (!this.registered || client !== this.client) throw new Error("the connection closed while joining channels");
    this.startRetries(client);
    const nick = this.self.nick === a.nick ? "" : `; nick ${a.nick} is taken, using ${this.self.nick}`;
    return missing.length || nick ? `${missing.length ? `not in ${missing.join(", ")}` : "all channels joined"}${nick}` : undefined;
  }

  /** Resolves on RPL_WELCOME; rejects on refused credentials (ConfigError), a close or the deadline. */
  private registration(client: Client): Promise<void> {
    const nicks = alternateNicks(this.account.nick);
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => (clearTimeout(timer), reject(err));
      const timer = setTimeout(() => fail(new Error(`not registered after ${this.timing.connectTimeoutMs} ms`)), this.timing.connectTimeoutMs);
      let refusal: Error | undefined;
      client.on("registered", (e) => {
        clearTimeout(timer);
        this.self.nick = e.nick;
        resolve();
      });
      client.on("nick in use", () => {
        if (this.registered) return;
        const next = nicks.shift();
        if (next) client.changeNick(next);
        else refusal = new Error(`the nicks ${this.account.nick} and ${alternateNicks(this.account.nick).slice(0, 2).join(", ")} are all taken`);
      });
      client.on("sasl failed", (e) => {
        const refusal =
          e.reason === "capability_missing"
            ? new ConfigError(`the IRC server ${this.account.host} does not offer SASL: remove irc.sasl_password (use irc.nickserv_password instead)`)
            : new ConfigError(`the IRC server refused the SASL login of ${this.account.sasl?.account} (${e.reason}${e.message ? `: ${e.message}` : ""}): check irc.sasl_account and irc.sasl_password`);
        fail(refusal);
        client.connection.end();
      });
      client.on("irc error", (e) => {
        if (e.error === "password_mismatch" || (e.error === "irc" && /password/i.test(e.reason ?? ""))) {
          refusal = new ConfigError("the IRC server refused the server password: check irc.server_password");
        } else if (e.error === "irc") refusal ??= new Error(`the IRC server closed the connection: ${e.reason ?? "no reason"}`);
      });
      // irc-framework never emits "socket error": the socket's error (refused, TLS, DNS) comes with "socket close".
      client.on("socket close", (err?: unknown) => {
        if (err instanceof Error) refusal ??= new Error(`cannot connect to ${this.account.host}:${this.account.port}: ${err.message}`);
      });
      client.on("close", () => {
        if (!this.registered) fail(refusal ?? new Error("the IRC server closed the connection during registration"));
      });
      client.connection.on("message", (m) => this.onMessage(client, m));
      client.on("privmsg", (e) => this.onPrivmsg(e));
    });
  }

  private onMessage(client: Client, m: IrcMessage): void {
    if (client !== this.client) return;
    const own = m.nick !== "" && m.nick.toLowerCase() === this.self.nick.toLowerCase();
    if (m.command === "PONG") this.sender.onPong(m.params.at(-1) ?? "");
    else if (m.command === "JOIN" && own) {
      // Our own JOIN shows the mask the server relays our lines with.
      this.self = { nick: m.nick, user: m.ident, host: m.hostname };
      this.channels.onJoined(m.params[0] ?? "");
    } else if (m.command === "PART" && own) this.channels.onLeft(m.params[0] ?? "");
    else if (m.command === "KICK" && m.params[1]?.toLowerCase() === this.self.nick.toLowerCase()) {
      log.warn(`kicked from ${m.params[0]} by ${m.nick}: ${m.params[2] ?? ""}; joining again in ${this.timing.retryMs} ms`);
      this.channels.onLeft(m.params[0] ?? "", `kicked by ${m.nick}`);
      this.reportChannels();
    } else if (m.command === "NICK" && own) this.self.nick = m.params[0] ?? this.self.nick;
    else if (m.command === "PRIVMSG" && own) this.sender.onEcho(m.params[0] ?? "", m.params[1] ?? "");
    else if (m.command === "NICK") this.owners.renamed(m.nick, m.params[0] ?? "", `${m.nick}!${m.ident}@${m.hostname}`);
    else if (m.command === "QUIT") this.owners.quit(m.nick, `${m.nick}!${m.ident}@${m.hostname}`);
    else if (/^\d{3}$/.test(m.command)) {
      this.sender.onNumeric(m.command, m.params);
      if (this.channels.onNumeric(m.command, m.params) && this.registered) this.reportChannels();
    }
  }

  private onClose(client: Client): void {
    if (client !== this.client) return;
    clearInterval(this.retryTimer);
    this.lost("connection closed");
    this.link.dropped("connection lost");
  }

  /** Every `retryMs`: join the channels the bot is not in, and take the wanted nick back. */
  private startRetries(client: Client): void {
    clearInterval(this.retryTimer);
    this.retryTimer = setInterval(() => {
      if (client !== this.client || !this.registered) return;
      for (const line of this.channels.joinLines()) client.connection.write(line);
      if (this.self.nick.toLowerCase() !== this.account.nick.toLowerCase()) client.connection.write(`NICK ${this.account.nick}`);
      void this.channels.settled(this.timing.joinTimeoutMs).then(() => this.reportChannels());
    }, this.timing.retryMs);
  }

  private reportChannels(): void {
    const missing = this.channels.missing();
    if (this.isOnline()) this.link.setState("connected", missing.length ? `not in ${missing.join(", ")}` : "all channels joined");
  }
}
