/**
 * The few named errors st2bot uses. Each has a stable `code`; `userMessage` is safe to show
 * in chat (no URLs with credentials, no tokens), while `message` may carry detail for the log.
 */
export class St2botError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly userMessage: string = message,
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
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super("send", message);
  }
}

/** The one retry classifier shared by the StackStorm client and the outbox. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof SendError) return err.retryable;
  if (err instanceof St2botError && "status" in err) {
    const status = (err as { status: number }).status;
    return status === 0 || status === 408 || status === 429 || status >= 500;
  }
  return true;
}
