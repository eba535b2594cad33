/**
 * Structured logging to stderr. Secrets never reach the log: values of keys that look secret
 * are masked, and every string registered with `registerSecret` (the bot's own secrets) or
 * `rememberSecret` (credentials StackStorm accepted for a chat user) is masked wherever it appears.
 *
 * Only what is known to be a real secret is registered: a redaction list chat users could add
 * to at will would let them erase any word from every log line. The users' part of the list is
 * bounded (the least recently used go first); the bot's own secrets are never evicted.
 */
/** The log levels, least severe first (also what `bot.log_level` accepts). */
export const LEVELS = ["debug", "info", "warn", "error"] as const;
export type Level = (typeof LEVELS)[number];
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const secretKey = /pass(word)?|secret|token|api[-_]?key|authorization|cookie|credential/i;
/** The bot's own secrets (configuration, its tokens): never evicted. */
const pinned = new Set<string>();
/** Secrets of chat users, least recently used first (a Map keeps insertion order). */
const remembered = new Map<string, true>();
/**
 * How many users' secrets are redacted at once. A user's secret is remembered again each time
 * it is used, so only long-idle ones drop out.
 */
export const MAX_REMEMBERED_SECRETS = 1000;
/** Shorter strings are ordinary words, not secrets: masking them would mangle every line. */
const MIN_SECRET_LENGTH = 4;
/**
 * Every masked secret by its first three UTF-16 units (as one number), so `redact` costs one
 * map lookup per character of the line however many secrets there are: 1,000 `includes` calls
 * per log line cost ~45 µs, this a few.
 */
const byPrefix = new Map<number, string[]>();
const keyAt = (s: string, i: number) => s.charCodeAt(i) * 4294967296 + s.charCodeAt(i + 1) * 65536 + s.charCodeAt(i + 2);
const prefixOf = (s: string) => keyAt(s, 0);
/**
 * How many masked secrets start with three units of each 16-bit hash: `redact` looks in
 * `byPrefix` only where this says some may start, so most positions of a line (every command
 * writes an audit line) cost an array read instead of a map lookup. Never a false "none".
 */
const hashCounts = new Uint16Array(65536);
const hashAt = (s: string, i: number) => (s.charCodeAt(i) ^ (s.charCodeAt(i + 1) << 5) ^ (s.charCodeAt(i + 2) << 10) ^ (s.charCodeAt(i + 2) >>> 6)) & 0xffff;

function index(value: string): void {
  const list = byPrefix.get(prefixOf(value));
  if (list?.includes(value)) return;
  if (!list) byPrefix.set(prefixOf(value), [value]);
  else list.push(value);
  hashCounts[hashAt(value, 0)]!++;
}

function unindex(value: string): void {
  const list = byPrefix.get(prefixOf(value));
  const at = list?.indexOf(value) ?? -1;
  if (at < 0) return;
  list!.splice(at, 1);
  hashCounts[hashAt(value, 0)]!--;
  if (list!.length === 0) byPrefix.delete(prefixOf(value));
}

/** A level name, or undefined for anything else (an unknown name must not switch filtering off). */
/** `name` as a level, or undefined when it is not one. */
export const levelOf = (name: string | undefined): Level | undefined => (name !== undefined && Object.hasOwn(order, name) ? (name as Level) : undefined);

/** How a line is written: `text` for people, `json` (one object per line) for journald or Loki. */
export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

let threshold: Level = levelOf(process.env.ST2BOT_LOG_LEVEL) ?? "info";
let format: LogFormat = "text";
let sink: (line: string) => void = (line) => process.stderr.write(line + "\n");

/** Lines below `level` are dropped from now on (process-wide). */
export function setLogLevel(level: Level): void {
  threshold = levelOf(level) ?? "info";
}

/** Lines are written in `f` from now on (process-wide); secrets are masked in both formats. */
export function setLogFormat(f: LogFormat): void {
  format = f === "json" ? "json" : "text";
}

/** Redirects log lines (tests capture them to assert that nothing secret leaks). */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}

/**
 * For tests: sends every line from `level` up to `sink` until the returned function restores
 * the previous sink and level (both are process-wide, and test files share one process).
 */
export function captureLogs(capture: (line: string) => void, level: Level = "debug"): () => void {
  const previous = { sink, threshold };
  sink = capture;
  threshold = level;
  return () => {
    sink = previous.sink;
    threshold = previous.threshold;
  };
}

/**
 * A secret of the bot itself (from its configuration, or a token it obtained with it): replaced
 * by `***` in every later log line, for the life of the process. Never call it with text a chat
 * user or a web client supplied: use `rememberSecret` once StackStorm has accepted it.
 */
export function registerSecret(value: string | undefined): void {
  if (!value || value.length < MIN_SECRET_LENGTH) return;
  pinned.add(value);
  remembered.delete(value);
  index(value);
}

/**
 * A chat user's credential that StackStorm accepted (a token, an API key): replaced by `***` in
 * log lines until `forgetSecret`. Remembering it again marks it recently used. Past
 * `MAX_REMEMBERED_SECRETS`, the least recently used is dropped.
 */
export function rememberSecret(value: string | undefined): void {
  if (!value || value.length < MIN_SECRET_LENGTH || pinned.has(value)) return;
  remembered.delete(value);
  remembered.set(value, true);
  index(value);
  if (remembered.size > MAX_REMEMBERED_SECRETS) forgetSecret(remembered.keys().next().value!);
}

/** Stops masking a user's secret (it was deleted); the bot's own secrets stay masked. */
export function forgetSecret(value: string | undefined): void {
  if (value && remembered.delete(value)) unindex(value);
}

/** How many secrets are masked: the bot's own and the users' (for tests and `!status`-like checks). */
export function secretCounts(): { pinned: number; remembered: number } {
  return { pinned: pinned.size, remembered: remembered.size };
}

/**
 * `text` with every registered or remembered secret replaced by `***`; overlapping or adjacent
 * occurrences of several secrets become one `***`, so no part of either shows.
 */
export function redact(text: string): string {
  if (byPrefix.size === 0) return text;
  let out = "";
  let from = 0;
  let spanStart = -1;
  let spanEnd = -1;
  for (let i = 0; i + MIN_SECRET_LENGTH <= text.length; i++) {
    if (hashCounts[hashAt(text, i)] === 0) continue;
    const candidates = byPrefix.get(keyAt(text, i));
    if (!candidates) continue;
    for (const s of candidates) {
      if (!text.startsWith(s, i)) continue;
      if (i > spanEnd) {
        if (spanStart >= 0) out += text.slice(from, spanStart) + "***";
        if (spanStart >= 0) from = spanEnd;
        spanStart = i;
      }
      spanEnd = Math.max(spanEnd, i + s.length);
    }
  }
  if (spanStart < 0) return text;
  return out + text.slice(from, spanStart) + "***" + text.slice(spanEnd);
}

function scrub(value: unknown, depth = 0): unknown {
  if (depth > 4) return "…";
  if (value instanceof Error) return redact(value.message);
  if (typeof value === "string") return redact(value);
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = secretKey.test(k) ? "***" : scrub(v, depth + 1);
    return out;
  }
  return value;
}

/** Writes one line per call; `fields` are appended as JSON with secret-looking keys masked. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Whether lines of `level` are written now: for callers whose message costs work to build (per request, per event). */
export function logs(level: Level): boolean {
  return order[level] >= order[threshold];
}

/** A logger whose lines carry `component`, e.g. `logger("st2.stream")`. */
export function logger(component: string): Logger {
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < order[threshold]) return;
    const time = new Date().toISOString();
    if (format === "json") {
      // The line's own keys win over a field of the same name.
      sink(JSON.stringify({ ...(fields ? (scrub(fields) as Record<string, unknown>) : {}), time, level, component, msg: redact(msg) }));
      return;
    }
    const extra = fields ? " " + JSON.stringify(scrub(fields)) : "";
    sink(`${time} ${level.toUpperCase().padEnd(5)} ${component}: ${redact(msg)}${extra}`);
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}
