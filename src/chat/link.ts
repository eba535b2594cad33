/**
 * One chat connection's life, the same for every backend: start, notice a drop, reconnect with
 * the shared Backoff (never sooner than a server's retry-after), stop, and report the state.
 * A backend supplies only what differs: how one attempt connects and how to close. Exactly one
 * reconnect loop runs at a time, and `stop` ends it.
 */
import { Backoff, sleep } from "../lib/backoff.ts";
import { ConfigError, describeError, SendError } from "../lib/errors.ts";
import type { Logger } from "../lib/log.ts";
import type { BackendStatus, ConnectionState } from "./types.ts";

/** What a backend's connection does; the link decides when. */
export interface LinkDriver {
  /**
   * One attempt, resolving once the service confirmed the link is up (Slack's and Mattermost's
   * `hello`, XMPP's session), optionally with a detail for `status()`. On failure it cleans up
   * what it opened and rejects: a ConfigError (credentials refused) fails `start`, anything else
   * is retried; a SendError's `retryAfterMs` delays the next attempt at least that long.
   */
  connect(): Promise<string | void>;
  /** Closes whatever is open; called by `stop`, may find nothing open, never throws. */
  close(): Promise<void>;
}

/** How a `ReconnectingLink` logs, backs off and words failures. */
export interface LinkOptions {
  /** The backend's logger (state changes are logged there). */
  log: Logger;
  /** Reconnect policy (default: the shared Backoff defaults). */
  backoff?: Backoff;
  /** Turns an attempt's failure into the `status()` detail (default: its message). */
  describe?: (err: unknown) => string;
}

/**
 * A backend's connection state. The one rule for `since`: it moves when the state changes,
 * never when only the detail does (a room that failed to join does not reset "connected since").
 */
export class ReconnectingLink {
  private state: BackendStatus = { state: "disconnected", detail: "not started", since: Date.now() };
  private stopped = false;
  private attempting = false;
  private looping = false;
  private abort = new AbortController();
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private readonly describe: (err: unknown) => string;

  constructor(private readonly driver: LinkDriver, opts: LinkOptions) {
    this.backoff = opts.backoff ?? new Backoff();
    this.log = opts.log;
    this.describe = opts.describe ?? describeError;
  }

  /**
   * Resolves once connected, or once a recoverable failure has been handed to the reconnect
   * loop. A ConfigError from the first attempt stops the link and is thrown.
   */
  async start(): Promise<void> {
    this.stopped = false;
    this.abort = new AbortController();
    try {
      await this.attempt();
    } catch (err) {
      if (err instanceof ConfigError) {
        await this.stop();
        throw err;
      }
      void this.reconnect(this.describe(err), err);
    }
  }

  /** Stops retrying, closes the connection and reports `stopped`; safe to call twice. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.driver.close().catch(() => undefined);
    this.setState("stopped");
  }

  /** The connection state now (a copy): what the backend's own `status()` returns. */
  status(): BackendStatus {
    return { ...this.state };
  }

  /** True between `start` and `stop`. */
  get running(): boolean {
    return !this.stopped;
  }

  /**
   * The backend saw its connection go: reconnect. Ignored unless the link is connected (or
   * "connecting" as the backend set it: a library resuming on its own, then giving up) and no
   * attempt or loop runs (those handle their own failures), and after `stop`. `reason` may be
   * a function, asked only when the drop is taken (it may consume what explains the drop).
   */
  dropped(reason: string | (() => string)): void {
    if (this.stopped || this.attempting || this.looping) return;
    if (this.state.state !== "connected" && this.state.state !== "connecting") return;
    void this.reconnect(typeof reason === "function" ? reason() : reason);
  }

  /** Records and logs a state (a backend may refine the detail, e.g. rooms not joined yet). */
  setState(state: ConnectionState, detail?: string): void {
    // An attempt unwinding after stop() must not make a stopped backend look alive.
    if (this.stopped && state !== "stopped") return;
    if (this.state.state === state && this.state.detail === detail) return;
    const since = this.state.state === state ? this.state.since : Date.now();
    this.state = { state, ...(detail ? { detail } : {}), since };
    const fields = detail ? { detail } : undefined;
    if (state === "disconnected") this.log.warn(`state ${state}`, fields);
    else if (state === "connecting") this.log.debug(`state ${state}`, fields);
    else this.log.info(`state ${state}`, fields);
  }

  private async attempt(): Promise<void> {
    this.attempting = true;
    this.setState("connecting");
    try {
      const detail = await this.driver.connect();
      if (this.stopped) {
        // stop() ran while this attempt was opening: its close came too early to catch it.
        await this.driver.close().catch(() => undefined);
        return;
      }
      this.backoff.reset();
      // The driver may have reported "connected" with a detail of its own during the attempt.
      if (this.state.state !== "connected") this.setState("connected", detail || undefined);
    } finally {
      this.attempting = false;
    }
  }

  private async reconnect(reason: string, lastError?: unknown): Promise<void> {
    if (this.looping) return;
    this.looping = true;
    try {
      while (!this.stopped) {
        // A rate-limited server says how long to wait; never come back sooner.
        const retryAfter = lastError instanceof SendError ? (lastError.retryAfterMs ?? 0) : 0;
        const delay = Math.max(this.backoff.next(), retryAfter);
        this.setState("disconnected", `${reason}; retrying in ${delay} ms`);
        await sleep(delay, this.abort.signal);
        if (this.stopped) return;
        try {
          await this.attempt();
          return;
        } catch (err) {
          lastError = err;
          reason = this.describe(err);
        }
      }
    } finally {
      this.looping = false;
    }
  }
}
