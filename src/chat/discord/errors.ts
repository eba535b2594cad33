/**
 * Discord REST failures as SendError. @discordjs/rest is told to reject on every rate limit
 * (see rest.ts), so a 429 (or a bucket the library knows is empty) arrives here as a
 * RateLimitError and leaves as a retryable SendError carrying the wait: the outbox, not a queue
 * hidden in the library, waits it out, and nothing is ever dropped.
 */
import { DiscordAPIError, HTTPError, RateLimitError } from "@discordjs/rest";
import { describeError, SendError } from "../../lib/errors.ts";
import { redact } from "../../lib/log.ts";

/** Discord's JSON error codes st2bot acts on (https://discord.com/developers/docs/topics/opcodes-and-status-codes). */
export const CODES = {
  unknownChannel: 10003,
  unknownMessage: 10008,
  unknownUser: 10013,
  missingAccess: 50001,
  cannotDmUser: 50007,
  missingPermissions: 50013,
} as const;

/** A failed call Discord answered; `code` is its JSON error code when it gave one. */
export class DiscordSendError extends SendError {
  constructor(message: string, retryable: boolean, retryAfterMs?: number, readonly status?: number, readonly discordCode?: number) {
    super(message, retryable, retryAfterMs);
  }
}

/** An error's message for logs and status; never carries the token (it only travels in a header). */
export const describe = (err: unknown): string => redact(describeError(err)).slice(0, 300);

/** Classifies whatever a REST call for `what` threw. */
export function toSendError(what: string, err: unknown): SendError {
  if (err instanceof SendError) return err;
  if (err instanceof RateLimitError) {
    // retryAfter is what the 429 said (or the bucket's reset); never less than a moment.
    const wait = Math.max(1, Math.ceil(err.retryAfter || err.timeToReset || 1000));
    const scope = err.global ? "global" : `bucket ${err.route}`;
    return new DiscordSendError(`Discord rate limit (${scope}) on ${what}; retry in ${wait} ms`, true, wait, 429);
  }
  if (err instanceof DiscordAPIError) {
    const code = typeof err.code === "number" ? err.code : undefined;
    // 401: the token was reset or revoked; worth retrying once it is fixed. 5xx: Discord's trouble.
    const retryable = err.status === 401 || err.status === 408 || err.status >= 500;
    return new DiscordSendError(`Discord refused ${what} (${err.status}${code ? `, code ${code}` : ""}): ${describe(err)}`, retryable, undefined, err.status, code);
  }
  if (err instanceof HTTPError) {
    return new DiscordSendError(`Discord answered ${what} with HTTP ${err.status}`, err.status === 408 || err.status >= 500, undefined, err.status);
  }
  return new SendError(`Discord could not be reached for ${what} (${describe(err)})`, true);
}

/** True when Discord said the channel, user or message asked for does not exist (or is out of reach). */
export function isMissing(err: unknown): boolean {
  if (!(err instanceof DiscordSendError)) return false;
  return err.status === 404 || err.discordCode === CODES.unknownChannel || err.discordCode === CODES.unknownUser || err.discordCode === CODES.missingAccess;
}
