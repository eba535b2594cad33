/** Every `St2botError.code` there is: one per error class below and in st2/http.ts. */
export type ErrorCode = "command" | "config" | "send" | "st2api";

/**
 * The few named errors st2bot uses. Each has a stable `code`; `userMessage` is safe to show
 * in chat (no URLs with credentials, no tokens), while `message` may carry detail for the log.
 * `retryable` says whether trying the same thing again later may succeed (see `isRetryable`);
 * each class decides it from what it knows.
 */
export class St2botError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly userMessage: string = message,
    readonly retryable: boolean = true,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** An expected failure of a command: shown to the user exactly as written. */
export class CommandError extends St2botError {
  constructor(userMessage: string) {
    super("command", userMessage, userMessage);
  }
}

/** A configuration problem: names the file, line and key path. */
export class ConfigError extends St2botError {
  constructor(message: string) {
    super("config", message);
  }
}

/**
 * A chat send that failed. `retryable` false means the message can never be sent as it is
 * (unknown target, rejected content); `retryAfterMs` carries a 429's Retry-After.
 */
export class SendError extends St2botError {
  constructor(
    message: string,
    retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super("send", message, message, retryable);
  }
}

/**
 * The one retry classifier shared by the StackStorm client and the outbox: a St2botError says
 * it itself (each class sets `retryable`); anything else (a network error, a bug) may pass.
 */
export function isRetryable(err: unknown): boolean {
  return err instanceof St2botError ? err.retryable : true;
}

/**
 * The text of any thrown value, for a log line or an error message built on it: an Error's
 * message (its name when the message is empty), anything else as a string. With `stack`, an
 * Error's stack instead (for "something went wrong" logs that carry an error id).
 */
export function describeError(err: unknown, opts: { stack?: boolean } = {}): string {
  if (!(err instanceof Error)) return String(err);
  return (opts.stack ? err.stack : undefined) ?? (err.message || err.name);
}
