/**
 * What every network backend shares around its ReconnectingLink, written once: keeping the
 * handler `start` was given, start/stop/status through the link, and handing each message to
 * that handler without letting its failure or its time hold up the connection's event loop.
 * A backend extends it and writes only what differs: how to connect, read and send.
 */
import { describeError } from "../lib/errors.ts";
import type { Backoff } from "../lib/backoff.ts";
import type { Logger } from "../lib/log.ts";
import type { BackendStatus, Message, MessageHandler } from "./types.ts";

/** The part of a connection the base drives: a ReconnectingLink, or a backend's own wrapper of one. */
export interface Lifecycle {
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): BackendStatus;
}

/** The injectable every linked backend's deps share. */
export interface LinkDeps {
  /** Reconnect policy (default: the shared Backoff defaults). */
  backoff?: Backoff;
}

/** Base of the backends that run on a ReconnectingLink (Slack, Mattermost, XMPP, IRC, Matrix, Discord, Rocket.Chat). */
export abstract class LinkedBackend {
  /** The connection `start`, `stop` and `status` go through. */
  protected abstract readonly link: Lifecycle;
  /** The bot's handler, set by `start`; messages before that are dropped. */
  protected handler?: MessageHandler;

  /** `describe` words a handler failure for the log (a backend may redact its secrets). */
  constructor(
    private readonly log: Logger,
    private readonly describe: (err: unknown) => string = describeError,
  ) {}

  /**
   * Resolves once connected, or once a recoverable failure went to the reconnect loop; throws
   * ConfigError when the service refuses the credentials.
   */
  async start(onMessage: MessageHandler): Promise<void> {
    this.handler = onMessage;
    await this.link.start();
  }

  /** Disconnects and stops reconnecting; safe to call twice. */
  stop(): Promise<void> {
    return this.link.stop();
  }

  /** The connection state now. */
  status(): BackendStatus {
    return this.link.status();
  }

  /** Hands `msg` to the handler without awaiting it; a failure is logged. No-op without a message or before `start`. */
  protected deliver(msg: Message | undefined): void {
    const handler = this.handler;
    if (!msg || !handler) return;
    void Promise.resolve()
      .then(() => handler(msg))
      .catch((err: unknown) => this.log.error("the message handler failed", { error: this.describe(err) }));
  }
}

/**
 * `botNames()` for a service that tells the bot its own names (`own`, once connected): those,
 * then the configured `bot.name` and `@bot.name` where they are not among them already, so the
 * name in the config answers too, also before the first connection.
 */
export function withConfiguredName(own: string[], botName: string): string[] {
  const names = [...own];
  for (const n of [botName, `@${botName}`]) if (!names.includes(n)) names.push(n);
  return names;
}
