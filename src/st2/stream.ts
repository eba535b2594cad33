/**
 * StackStorm's event stream (`<stream_url>/stream?events=...`) as a steady flow of parsed
 * events. StackStorm never replays what was sent while we were away, so this reconnects fast:
 * with the shared backoff after a failure, at once after re-authenticating on a 401, and it
 * treats a silent connection (no byte, not even the 25 s heartbeat, for `idleTimeoutMs`) as
 * dead. `onConnect` fires after every (re)connection so the caller can re-sync its caches.
 *
 * eventsource-client parses the SSE wire format; st2bot owns the connection policy. Each
 * attempt gets its own client whose built-in reconnect is cancelled the moment it would
 * schedule one, and whose fetch is wrapped to check the HTTP status and to see every byte.
 */
import { createEventSource, type EventSourceClient, type EventSourceMessage, type FetchLikeResponse } from "eventsource-client";
import { Backoff, type BackoffOptions } from "../lib/backoff.ts";
import { logger, logs, redact } from "../lib/log.ts";
import { duration, faultOf, pathOf, St2ApiError } from "./http.ts";
import type { St2Client } from "./client.ts";
import { describeError } from "../lib/errors.ts";
import { isRecord } from "../lib/json.ts";

const log = logger("st2.stream");

/** One event from the stream: `data` is the parsed JSON (an object). */
export interface St2Event {
  name: string;
  data: unknown;
}

/** Where the connection is; `reconnecting` carries the reason and the delay as its detail. */
export type StreamState = "idle" | "connecting" | "open" | "reconnecting" | "stopped";

/** The stream's state and, when it is not open, why (the last failure, for `!status`). */
export interface StreamStatus {
  state: StreamState;
  detail?: string;
}

/** What the stream needs of a client: the stream root, the HTTP layer and the credential. */
export type StreamSource = Pick<St2Client, "http" | "provider"> & { urls: Pick<St2Client["urls"], "stream"> };

/** What a stream listens to and whom it tells. */
export interface St2StreamOptions {
  /** Supplies the stream URL root, TLS options and the credential (normally the bot's St2Client). */
  client: StreamSource;
  /** Announcements are asked for on `st2.announcement__<routeKey>`. */
  routeKey: string;
  /** More event names to ask for, e.g. `st2.execution__create` for inquiries. */
  extraEvents?: string[];
  /**
   * Ask for exactly these events (no announcements, no alias changes) of these executions only
   * (StackStorm's `execution_ids` filter): a stream following one execution (`!st2 tail`).
   * `routeKey` and `extraEvents` are then ignored.
   */
  only?: { events: string[]; executionIds: string[] };
  /** Called once per event, in order; a throw is logged and does not stop the stream. */
  onEvent: (event: St2Event) => void | Promise<void>;
  /** After every successful (re)connection. */
  onConnect?: () => void | Promise<void>;
  /** Every state change (for `!status` and the metrics); a throw is logged. */
  onState?: (state: StreamState, detail?: string) => void;
  /** Delays after a failure; default 0.5 s growing to 30 s. */
  backoff?: Backoff | BackoffOptions;
  /** No byte for this long means the connection is dead. Default 60 s (heartbeat is 25 s). */
  idleTimeoutMs?: number;
  /** A connection that stays up this long resets the backoff. Default 10 s. */
  healthyAfterMs?: number;
  /** Bound on waiting for the stream's response headers. Default: `idleTimeoutMs`. */
  connectTimeoutMs?: number;
}

/** The event names st2bot always asks for, plus `extra`. */
export function streamEvents(routeKey: string, extra: string[] = []): string[] {
  const base = [
    `st2.announcement__${routeKey}`,
    "st2.actionalias__create",
    "st2.actionalias__update",
    "st2.actionalias__delete",
  ];
  return [...new Set([...base, ...extra])];
}

const MAX_LOGGED_DATA = 200;

/** One stream connection kept alive until `stop()` (see the file comment for the policy). */
export class St2Stream {
  private current: StreamStatus = { state: "idle" };
  private es: EventSourceClient | undefined;
  /** Bumped per attempt so callbacks of an abandoned attempt are ignored. */
  private attempt = 0;
  private readonly backoff: Backoff;
  private readonly url: string;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the current attempt last read data (`performance.now()`), for the idle timer. */
  private lastData = 0;
  private healthyTimer: ReturnType<typeof setTimeout> | undefined;
  /** The header the last attempt used and whether StackStorm refused it. */
  private lastHeader: Record<string, string> = {};
  private lastFailure: St2ApiError | Error | undefined;
  /** Consecutive 401s, so a credential that keeps failing right after renewal backs off. */
  private unauthorizedInARow = 0;
  /** The failure last logged as a warning; cleared on connect, so the next drop is news again. */
  private lastWarned: string | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** Callbacks queued on `chain` or still running there (see `enqueue`). */
  private unfinished = 0;

  constructor(private readonly opts: St2StreamOptions) {
    this.backoff = opts.backoff instanceof Backoff ? opts.backoff : new Backoff({ initialMs: 500, maxMs: 30_000, ...opts.backoff });
    const only = opts.only;
    const events = (only ? only.events : streamEvents(opts.routeKey, opts.extraEvents)).map(encodeURIComponent).join(",");
    const ids = only ? `&execution_ids=${only.executionIds.map(encodeURIComponent).join(",")}` : "";
    this.url = `${opts.client.urls.stream}/stream?events=${events}${ids}`;
  }

  /** Connects and keeps connected until `stop()`. Calling it twice does nothing. */
  start(): void {
    if (this.current.state !== "idle" && this.current.state !== "stopped") return;
    void this.connect();
  }

  /** Closes the connection, cancels every timer and waits for the event being handled. */
  async stop(): Promise<void> {
    this.attempt++;
    this.clearTimers();
    this.es?.close();
    this.es = undefined;
    this.setState("stopped");
    await this.chain;
  }

  /** The current connection state, with the detail `onState` was given. */
  state(): StreamStatus {
    return this.current;
  }

  private async connect(): Promise<void> {
    const attempt = ++this.attempt;
    this.setState("connecting");
    this.lastFailure = undefined;
    let header: Record<string, string>;
    try {
      header = await this.opts.client.provider.header();
    } catch (err) {
      if (attempt === this.attempt) this.dropped(attempt, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (attempt !== this.attempt) return;
    this.lastHeader = header;
    this.es = createEventSource({
      url: this.url,
      headers: header,
      fetch: (url, init) => this.open(attempt, String(url), init),
      onConnect: () => this.connected(attempt),
      onMessage: (msg) => this.message(attempt, msg),
      // The library would reconnect on its own after 2 s: take over instead.
      onScheduleReconnect: () => this.dropped(attempt),
    });
  }

  /** The fetch handed to eventsource-client: status checked, every byte seen. */
  private async open(attempt: number, url: string, init: { headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<FetchLikeResponse> {
    try {
      const res = await this.opts.client.http.open("GET", url, {
        headers: init.headers,
        signal: init.signal,
        timeoutMs: this.opts.connectTimeoutMs ?? this.idleMs(),
      });
      if (!res.ok) throw await this.refused(res, url);
      if (!res.body) throw new Error("the stream answered without a body");
      this.touch(attempt);
      const watched = res.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform: (chunk, ctl) => {
            this.touch(attempt);
            ctl.enqueue(chunk);
          },
        }),
      );
      return { body: watched as FetchLikeResponse["body"], url: res.url || url, status: res.status, redirected: res.redirected };
    } catch (err) {
      if (attempt === this.attempt) this.lastFailure = err instanceof Error ? err : new Error(String(err));
      throw err;
    }
  }

  private async refused(res: Response, url: string): Promise<St2ApiError> {
    const text = await res.text().catch(() => "");
    return new St2ApiError(res.status, faultOf(text, res), "GET", pathOf(url));
  }

  private connected(attempt: number): void {
    if (attempt !== this.attempt) return;
    this.unauthorizedInARow = 0;
    this.lastWarned = undefined;
    this.setState("open");
    log.info("connected to the StackStorm stream", { url: this.url.split("?")[0] });
    this.healthyTimer = setTimeout(() => this.backoff.reset(), this.opts.healthyAfterMs ?? 10_000);
    const onConnect = this.opts.onConnect;
    if (onConnect) this.enqueue(() => onConnect(), "onConnect");
  }

  private idleMs(): number {
    return this.opts.idleTimeoutMs ?? 60_000;
  }

  /**
   * Restarts the idle clock: any byte, a bare heartbeat newline included, proves life. Called
   * for every chunk read, so it only notes the time: the one idle timer, when it fires, looks
   * at when data last came and waits out the rest (a timer and a closure per chunk were a good
   * part of what every command's stream events allocated).
   */
  private touch(attempt: number): void {
    if (attempt !== this.attempt) return;
    this.lastData = performance.now();
    if (!this.idleTimer) this.watchIdle(attempt, this.idleMs());
  }

  private watchIdle(attempt: number, ms: number): void {
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (attempt !== this.attempt) return;
      const idleMs = this.idleMs();
      const quiet = performance.now() - this.lastData;
      if (quiet < idleMs) return this.watchIdle(attempt, idleMs - quiet);
      this.es?.close();
      this.dropped(attempt, new Error(`no data from StackStorm for ${duration(idleMs)}`));
    }, ms);
  }

  /** The attempt ended (refused, failed, closed by StackStorm or idle): plan the next one. */
  private dropped(attempt: number, reason?: Error): void {
    if (attempt !== this.attempt || this.current.state === "stopped") return;
    this.attempt++;
    this.es?.close();
    this.es = undefined;
    this.clearTimers();
    const failure = reason ?? this.lastFailure ?? new Error("StackStorm closed the stream");
    void this.plan(failure);
  }

  private async plan(failure: Error): Promise<void> {
    const attempt = this.attempt;
    let delay: number;
    if (failure instanceof St2ApiError && failure.status === 401) {
      this.unauthorizedInARow++;
      // A provider that throws instead of answering false must not end the reconnect loop.
      const renewed = await this.opts.client.provider.onUnauthorized(this.lastHeader).catch((err: unknown) => {
        log.error(`could not renew the StackStorm credential for the stream: ${describeError(err)}`);
        return false;
      });
      // Reconnect at once after a renewal, but not again if the fresh credential failed too.
      delay = renewed && this.unauthorizedInARow === 1 ? 0 : this.backoff.next();
    } else {
      delay = this.backoff.next();
    }
    if (attempt !== this.attempt || this.current.state === "stopped") return;
    const detail = `${redact(failure.message)}; reconnecting in ${delay} ms`;
    // The same failure again is a retry, not news: warn once per different failure.
    const repeated = failure.message === this.lastWarned;
    this.lastWarned = failure.message;
    log[repeated ? "debug" : "warn"](`StackStorm stream disconnected: ${detail}`);
    this.setState("reconnecting", detail);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }

  private message(attempt: number, msg: EventSourceMessage): void {
    if (attempt !== this.attempt) return;
    const event = parseEvent(msg);
    if (!event) return;
    if (logs("debug")) log.debug(`stream event ${event.name}`);
    const handler = this.opts.onEvent;
    this.enqueue(() => handler(event), event);
  }

  /**
   * Runs callbacks one after another in arrival order; a failure is logged, never thrown. One
   * arriving while none is unfinished runs at once (a burst of announcements: no promise and
   * no turn each); only a callback that returns a promise makes the later ones wait for it.
   */
  private enqueue(fn: () => void | Promise<void>, what: string | St2Event): void {
    if (this.unfinished === 0) {
      let result: void | Promise<void>;
      try {
        result = fn();
      } catch (err) {
        return this.failed(what, err);
      }
      if (!(result instanceof Promise)) return;
      this.unfinished++;
      this.chain = result.then(
        () => void this.unfinished--,
        (err: unknown) => {
          this.unfinished--;
          this.failed(what, err);
        },
      );
      return;
    }
    this.unfinished++;
    this.chain = this.chain.then(async () => {
      try {
        await fn();
      } catch (err) {
        this.failed(what, err);
      } finally {
        this.unfinished--;
      }
    });
  }

  private failed(what: string | St2Event, err: unknown): void {
    log.error(`handling ${typeof what === "string" ? what : `event ${what.name}`} failed: ${describeError(err)}`);
  }

  private clearTimers(): void {
    for (const t of [this.reconnectTimer, this.idleTimer, this.healthyTimer]) if (t) clearTimeout(t);
    this.reconnectTimer = this.idleTimer = this.healthyTimer = undefined;
  }

  private setState(state: StreamState, detail?: string): void {
    this.current = detail === undefined ? { state } : { state, detail };
    try {
      this.opts.onState?.(state, detail);
    } catch (err) {
      log.error(`onState callback failed: ${describeError(err)}`);
    }
  }
}

/**
 * An SSE message → an event, or undefined (logged) when it is malformed: no event name,
 * data that is not a JSON object, or an announcement without its `payload` object.
 */
export function parseEvent(msg: EventSourceMessage): St2Event | undefined {
  const name = msg.event;
  if (!name) return skip("(unnamed)", "the event has no name", msg.data);
  let data: unknown;
  try {
    data = JSON.parse(msg.data);
  } catch {
    return skip(name, "its data is not JSON", msg.data);
  }
  if (!isRecord(data)) return skip(name, "its data is not a JSON object", msg.data);
  if (name.startsWith("st2.announcement__") && !isRecord(data.payload)) {
    return skip(name, "the announcement has no payload object", msg.data);
  }
  return { name, data };
}

function skip(name: string, why: string, data: string): undefined {
  const shown = data.length > MAX_LOGGED_DATA ? `${data.slice(0, MAX_LOGGED_DATA)}…` : data;
  log.warn(`skipped a malformed stream event ${name}: ${why}`, { data: shown });
  return undefined;
}
