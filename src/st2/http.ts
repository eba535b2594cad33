/**
 * The one door to StackStorm's HTTP endpoints. It applies the configured TLS options to each
 * StackStorm request only (never process-wide), bounds every request in time, and turns every
 * failure into an `St2ApiError` that names the method, path and StackStorm's `faultstring`,
 * but never a credential.
 */
import { readFileSync } from "node:fs";
import * as v from "valibot";
import { ConfigError, St2botError } from "../lib/errors.ts";
import { logger, logs, redact } from "../lib/log.ts";
import type { StackStormConfig } from "../config/schema.ts";
import { ErrorSchema } from "./schemas.ts";

const log = logger("st2.http");

/** Bun's fetch, narrowed to what st2bot passes; injectable for tests. */
export type FetchFn = (input: string | URL, init?: BunFetchRequestInit) => Promise<Response>;

/**
 * A StackStorm call that failed. `status` is the HTTP status, or 0 when StackStorm could not be
 * reached at all (refused, DNS, TLS, timeout). `faultstring` is StackStorm's own explanation
 * with every registered secret masked (safe to show to users); `path` carries no query string,
 * so no credential can ride along.
 */
export class St2ApiError extends St2botError {
  readonly faultstring: string;

  constructor(
    readonly status: number,
    faultstring: string,
    readonly method: string,
    readonly path: string,
  ) {
    // Shown in chat as it is, so any known secret StackStorm might echo back is masked here.
    const safe = redact(faultstring);
    super("st2api", `${method} ${path} failed: ${status === 0 ? "" : `${status} `}${safe}`, safe, retryableStatus(status));
    this.faultstring = safe;
  }
}

/** Unreachable (0), timed out, throttled or a server fault: asking again later may work. */
function retryableStatus(status: number): boolean {
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/**
 * StackStorm's 5xx faultstrings can carry its internals (tracebacks, hosts, queries): they belong
 * in the operator's log, not in a chat room. Logs `err` at error level under a fresh error id
 * and returns the id, for the message a user gets instead.
 */
export function logServerFault(err: St2ApiError, context: Record<string, unknown> = {}): string {
  const errorId = crypto.randomUUID().slice(0, 8);
  log.error(`StackStorm answered ${err.status} to ${err.method} ${err.path}`, { errorId, faultstring: err.faultstring, ...context });
  return errorId;
}

/** How StackStorm is reached: TLS, time bound and (for tests) the fetch. */
export interface St2HttpOptions {
  /** false accepts any server certificate, for StackStorm requests only. */
  verifyCert?: boolean;
  /** PEM text of the CA bundle to trust instead of the system's. */
  ca?: string;
  /** PEM text of the client certificate and key for mutual TLS. */
  cert?: string;
  key?: string;
  /** Upper bound of one request, from sending to the last byte of the answer. Default 30 s. */
  timeoutMs?: number;
  fetch?: FetchFn;
}

/** What `request` returns: the parsed JSON body (undefined when empty) and the headers. */
export interface St2Response {
  status: number;
  headers: Headers;
  body: unknown;
}

/** One request's extras; `timeoutMs` overrides the client's bound for this request only. */
export interface RequestOptions {
  headers?: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
  /** Cancels the request; the error then says "cancelled" rather than "unreachable". */
  signal?: AbortSignal;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** The HTTP client every StackStorm request goes through (see the file comment). */
export class St2Http {
  private readonly fetchFn: FetchFn;
  private readonly tls: BunFetchRequestInitTLS | undefined;
  readonly timeoutMs: number;

  constructor(opts: St2HttpOptions = {}) {
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.tls = buildTls(opts);
  }

  /** Reads `ca_cert`, `client_cert` and `client_key` from disk; a missing file is a ConfigError. */
  static fromConfig(cfg: StackStormConfig, extra: Pick<St2HttpOptions, "fetch" | "timeoutMs"> = {}): St2Http {
    if (Boolean(cfg.client_cert) !== Boolean(cfg.client_key)) {
      throw new ConfigError("stackstorm.client_cert and stackstorm.client_key go together");
    }
    return new St2Http({
      ...extra,
      verifyCert: cfg.verify_cert,
      ca: readPem(cfg.ca_cert, "stackstorm.ca_cert"),
      cert: readPem(cfg.client_cert, "stackstorm.client_cert"),
      key: readPem(cfg.client_key, "stackstorm.client_key"),
    });
  }

  /**
   * Sends one request and returns the raw response once its headers arrive (for streams: the
   * body is left to the caller and the timeout stops applying). Non-2xx answers are returned,
   * not thrown; only an unreachable StackStorm throws (status 0).
   */
  async open(method: string, url: string, opts: RequestOptions = {}): Promise<Response> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const timer = new AbortController();
    const init = this.init(method, opts, combine(timer.signal, opts.signal));
    const handle = setTimeout(() => timer.abort(), timeoutMs);
    try {
      return await this.fetchFn(url, init);
    } catch (err) {
      throw unreachable(method, url, err, timer.signal.aborted, timeoutMs, opts.signal?.aborted);
    } finally {
      clearTimeout(handle);
    }
  }

  /**
   * One JSON exchange bounded by the timeout. A non-2xx answer throws `St2ApiError` carrying
   * StackStorm's faultstring (or the status text when the body has none).
   */
  async request(method: string, url: string, opts: RequestOptions = {}): Promise<St2Response> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const timer = new AbortController();
    const handle = setTimeout(abort, timeoutMs, timer);
    const started = logs("debug") ? performance.now() : 0;
    try {
      // Fetched here rather than in a helper: one async layer less on the way to every answer.
      const init = this.init(method, opts, combine(timer.signal, opts.signal));
      let res: Response;
      let text: string;
      try {
        res = await this.fetchFn(url, init);
        if (started) log.debug(`${method} ${pathOf(url)} → ${res.status} in ${(performance.now() - started).toFixed(1)} ms`);
        text = await res.text();
      } catch (err) {
        throw unreachable(method, url, err, timer.signal.aborted, timeoutMs, opts.signal?.aborted);
      }
      if (!res.ok) throw new St2ApiError(res.status, faultOf(text, res), method, pathOf(url));
      return { status: res.status, headers: res.headers, body: parseBody(text, method, url, res.status) };
    } finally {
      clearTimeout(handle);
    }
  }

  /** The fetch options of one request (see the comment on the literal). */
  private init(method: string, opts: RequestOptions, signal: AbortSignal): BunFetchRequestInit {
    const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
    const json = opts.json !== undefined;
    if (json) headers["Content-Type"] = "application/json";
    // One object literal with every option: Bun's fetch() returned ~15 µs sooner (p50, in the
    // compiled binary under scripts/bench/outside.ts) than with an init grown property by property.
    // Redirects are never followed: a redirected request would carry the credential elsewhere.
    return {
      method,
      headers,
      body: json ? JSON.stringify(opts.json) : undefined,
      signal,
      redirect: "manual",
      tls: this.tls,
    };
  }
}

/** A request's time bound ran out (a shared function: no closure made per request). */
function abort(timer: AbortController): void {
  timer.abort();
}

function buildTls(opts: St2HttpOptions): BunFetchRequestInitTLS | undefined {
  const tls: BunFetchRequestInitTLS = {};
  if (opts.verifyCert === false) tls.rejectUnauthorized = false;
  if (opts.ca) tls.ca = opts.ca;
  if (opts.cert) tls.cert = opts.cert;
  if (opts.key) tls.key = opts.key;
  return Object.keys(tls).length ? tls : undefined;
}

function readPem(path: string | undefined, key: string): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(`${key}: cannot read "${path}" (${code})`);
  }
}

function combine(a: AbortSignal, b: AbortSignal | undefined): AbortSignal {
  return b ? AbortSignal.any([a, b]) : a;
}

/** The URL's path only: queries are dropped so nothing passed in one can reach a message. */
export function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return "(invalid URL)";
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "(invalid URL)";
  }
}

const TLS_CODES = /CERT|SELF_SIGNED|TLS|SSL|UNABLE_TO_(GET|VERIFY)|HOSTNAME|ISSUER/i;

function unreachable(
  method: string,
  url: string,
  err: unknown,
  timedOut: boolean,
  timeoutMs: number,
  cancelled = false,
): St2ApiError {
  if (err instanceof St2ApiError) return err;
  const host = hostOf(url);
  if (cancelled) return new St2ApiError(0, `request to StackStorm at ${host} was cancelled`, method, pathOf(url));
  if (timedOut) {
    return new St2ApiError(0, `StackStorm at ${host} did not answer within ${duration(timeoutMs)}`, method, pathOf(url));
  }
  const code = (err as { code?: unknown }).code;
  const why = typeof code === "string" && code ? code : "connection failed";
  const hint = TLS_CODES.test(why) ? ": its TLS certificate is not trusted (see stackstorm.verify_cert and ca_cert)" : "";
  return new St2ApiError(0, `StackStorm unreachable at ${host} (${why})${hint}`, method, pathOf(url));
}

/** The explanation in an error answer's body: StackStorm's `{"faultstring": ...}`, else the status text. */
export function faultOf(text: string, res: Pick<Response, "status" | "statusText">): string {
  try {
    const body = v.safeParse(ErrorSchema, JSON.parse(text));
    if (body.success && body.output.faultstring) return body.output.faultstring;
  } catch {
    // Not JSON (a proxy's HTML page, say): fall back to the status line.
  }
  return res.statusText || `HTTP ${res.status}`;
}

function parseBody(text: string, method: string, url: string, status: number): unknown {
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new St2ApiError(status, "StackStorm answered with something that is not JSON", method, pathOf(url));
  }
}

/** `250 ms`, `30 s`: for messages people read. */
export function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}
