/**
 * The slice of irc-framework 4.x that st2bot uses. The package ships no type declarations;
 * declaring its module once here lets the backend and its tests import it typed, without casts.
 */
declare module "irc-framework" {
  /** One parsed line from the server (numerics keep their digits as `command`). */
  export interface IrcMessage {
    command: string;
    params: string[];
    nick: string;
    ident: string;
    hostname: string;
    prefix: string;
    tags: Record<string, string>;
  }

  /** The `privmsg` event: a message that is not a CTCP request (those have their own events). */
  export interface PrivmsgEvent {
    nick: string;
    ident: string;
    hostname: string;
    target: string;
    message: string;
    account?: string | false;
  }

  export interface ConnectOptions {
    host: string;
    port: number;
    tls?: boolean;
    rejectUnauthorized?: boolean;
    nick: string;
    username?: string;
    gecos?: string;
    /** The server password (PASS); irc-framework also uses it for SASL unless `account` is `{}`. */
    password?: string;
    /** SASL PLAIN credentials; `{}` turns SASL off. */
    account?: { account?: string; password?: string };
    sasl_disconnect_on_fail?: boolean;
    /** Request IRCv3 `echo-message` when the server offers it. */
    enable_echomessage?: boolean;
    /** The CTCP VERSION reply; irc-framework answers VERSION itself when it is set. */
    version?: string | null;
    auto_reconnect?: boolean;
    ping_interval?: number;
    ping_timeout?: number;
    encoding?: string;
  }

  export interface Connection {
    connected: boolean;
    write(line: string): void;
    end(data?: string, hadError?: boolean): void;
    on(event: "message", fn: (msg: IrcMessage, line: string) => void): this;
  }

  export class Client {
    constructor(options?: Partial<ConnectOptions>);
    connection: Connection;
    user: { nick: string; username: string; host: string };
    network: { cap: { enabled: string[]; isEnabled(cap: string): boolean } };
    connected: boolean;
    connect(options: ConnectOptions): void;
    raw(...args: string[]): void;
    changeNick(nick: string): void;
    quit(message?: string): void;
    on(event: "privmsg", fn: (e: PrivmsgEvent) => void): this;
    on(event: "registered", fn: (e: { nick: string }) => void): this;
    on(event: "nick in use", fn: (e: { nick: string; reason: string }) => void): this;
    on(event: "sasl failed", fn: (e: { reason: string; message?: string }) => void): this;
    on(event: "irc error", fn: (e: { error: string; reason?: string }) => void): this;
    on(event: "close" | "socket close", fn: (err?: unknown) => void): this;
    on(event: "socket error", fn: (err: Error) => void): this;
    on(event: string, fn: (...args: any[]) => void): this;
    removeAllListeners(): this;
  }
}
