/**
 * The Socket Mode link's life: connect, notice a drop, reconnect with the shared Backoff (never
 * sooner than a rate limit asks), and report the state. The SDK's own reconnect is off, so there
 * is exactly one loop and `stop` ends it.
 */
import type { SocketModeClient } from "@slack/socket-mode";
import { type Backoff, sleep } from "../../lib/backoff.ts";
import { ConfigError, SendError } from "../../lib/errors.ts";
import { logger } from "../../lib/log.ts";
import type { BackendStatus, ConnectionState } from "../types.ts";
import { isAuthFailure, toSendError } from "./errors.ts";
import { withTimeout } from "../../lib/timeout.ts";

const log = logger("chat.slack");

/** How the link reconnects and what runs before each attempt. */
export interface LinkOptions {
  backoff: Backoff;
  /** From `apps.connections.open` to Slack's `hello`; a silent link is replaced. */
  connectTimeoutMs: number;
  /** Runs before each attempt (the backend learns who it is here); its failure fails the attempt. */
  beforeConnect: () => Promise<void>;
}

/** One Socket Mode client's connection: `start`, then exactly one reconnect loop until `stop`. */
export class SocketModeLink {
  private state: BackendStatus = { state: "disconnected", detail: "not started", since: Date.now() };
  private stopped = false;
  private reconnecting = false;
  private abort = new AbortController();

  constructor(private readonly socket: SocketModeClient, private readonly opts: LinkOptions) {
    socket.on("disconnected", () => this.onClosed());
  }

  /**
   * Resolves once connected, or once a recoverable failure has been handed to the reconnect
   * loop; throws ConfigError when Slack refuses a token.
   */
  async start(): Promise<void> {
    this.stopped = false;
    this.abort = new AbortController();
    try {
      await this.connect();
    } catch (err) {
      if (isAuthFailure(err)) {
        this.setState("disconnected", "Slack refused the token");
        throw new ConfigError(`Slack refused the configured token (${(err as SendError).message}); check slack.bot_token and slack.app_token`);
      }
      this.setState("disconnected", (err as Error).message);
      void this.reconnectLoop(err);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await timed(this.socket.disconnect(), 3000).catch(() => undefined);
    this.setState("stopped");
  }

  status(): BackendStatus {
    return { ...this.state };
  }

  /** One attempt: the backend's preparation, then a Socket Mode link up to `hello`. */
  private async connect(): Promise<void> {
    this.setState("connecting");
    await this.opts.beforeConnect();
    try {
      await timed(this.socket.start(), this.opts.connectTimeoutMs);
    } catch (err) {
      await timed(this.socket.disconnect(), 3000).catch(() => undefined);
      throw toSendError("apps.connections.open", err);
    }
    if (this.stopped) {
      // stop() ran while this link was opening: its disconnect came too early to close it.
      await timed(this.socket.disconnect(), 3000).catch(() => undefined);
      return;
    }
    this.opts.backoff.reset();
    this.setState("connected");
  }

  private onClosed(): void {
    if (this.stopped || this.reconnecting || this.state.state !== "connected") return;
    this.setState("disconnected", "Socket Mode link closed");
    void this.reconnectLoop();
  }

  private async reconnectLoop(lastError?: unknown): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      while (!this.stopped) {
        // A rate-limited apps.connections.open says how long to wait; never come back sooner.
        const retryAfter = lastError instanceof SendError ? (lastError.retryAfterMs ?? 0) : 0;
        const delay = Math.max(this.opts.backoff.next(), retryAfter);
        log.debug("reconnecting", { inMs: delay, attempt: this.opts.backoff.attempts });
        await sleep(delay, this.abort.signal);
        if (this.stopped) return;
        try {
          await this.connect();
          return;
        } catch (err) {
          lastError = err;
          this.setState("disconnected", (err as Error).message);
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }

  private setState(state: ConnectionState, detail?: string): void {
    // A connect attempt unwinding after stop() must not make a stopped backend look alive.
    if (this.stopped && state !== "stopped") return;
    if (this.state.state === state && this.state.detail === detail) return;
    this.state = { state, ...(detail ? { detail } : {}), since: Date.now() };
    const fields = detail ? { detail } : undefined;
    if (state === "disconnected" && detail !== "not started") log.warn(`state ${state}`, fields);
    else log.info(`state ${state}`, fields);
  }
}

function timed<T>(p: Promise<T>, ms: number): Promise<T> {
  return withTimeout(p, ms, () => new Error(`no answer within ${ms} ms`));
}
