/**
 * Structured logging to stderr. Secrets never reach the log: values of keys that look secret
 * are masked, and every string registered with `registerSecret` is masked wherever it appears.
 */
/** The log levels, least severe first (also what `bot.log_level` accepts). */
export const LEVELS = ["debug", "info", "warn", "error"] as const;
export type Level = (typeof LEVELS)[number];
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const secretKey = /pass(word)?|secret|token|api[-_]?key|authorization|cookie|credential/i;
const secrets = new Set<string>();

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

/** Any value registered here is replaced by `***` in every later log line. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
}

/** `text` with every registered secret replaced by `***`. */
export function redact(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join("***");
  return out;
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
