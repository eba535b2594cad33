/**
 * Slack Web API failures as SendError: which are worth retrying, how long a rate limit asks us
 * to wait, and which mean the configured token itself is wrong.
 */
import { WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIRequestError } from "@slack/web-api";
import { SendError } from "../../lib/errors.ts";
import { redact } from "../../lib/log.ts";

/** A failed Web API call; `slackError` is Slack's own code (`channel_not_found`, ...) when it sent one. */
export class SlackSendError extends SendError {
  constructor(message: string, retryable: boolean, retryAfterMs?: number, readonly slackError?: string) {
    super(message, retryable, retryAfterMs);
  }
}

/** Slack error codes that may succeed later unchanged; every other platform error is final. */
const TRANSIENT = new Set(["internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited", "team_added_to_org"]);
/** Codes meaning a token is wrong, not that a call failed. */
const AUTH_ERRORS = new Set(["invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type"]);

/** Classifies whatever `method` threw; the text never carries a token (network detail is redacted). */
export function toSendError(method: string, err: unknown): SendError {
  if (err instanceof SendError) return err;
  if (err instanceof WebAPIRateLimitedError) {
    return new SlackSendError(`Slack rate-limited ${method}; retry after ${err.retryAfter}s`, true, err.retryAfter * 1000, "ratelimited");
  }
  if (err instanceof WebAPIPlatformError) {
    const code = err.data.error;
    return new SlackSendError(`Slack ${method} failed: ${code}`, TRANSIENT.has(code), code === "ratelimited" ? 1000 : undefined, code);
  }
  if (err instanceof WebAPIHTTPError) {
    return new SendError(`Slack ${method} answered HTTP ${err.statusCode}`, err.statusCode >= 500 || err.statusCode === 408);
  }
  const cause = err instanceof WebAPIRequestError ? err.original : err;
  const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  return new SendError(`Slack ${method} could not be reached (${redact(detail).slice(0, 200)})`, true);
}

/** True when `err` is Slack's error `code` (`user_not_found`, `missing_scope`, ...). */
export function isSlackError(err: unknown, code: string): boolean {
  return err instanceof SlackSendError && err.slackError === code;
}

/** True when Slack refused the token itself: a configuration problem, not worth retrying. */
export function isAuthFailure(err: unknown): boolean {
  return err instanceof SlackSendError && err.slackError !== undefined && AUTH_ERRORS.has(err.slackError);
}
