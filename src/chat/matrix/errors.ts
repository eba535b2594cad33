/**
 * Matrix failures in st2bot's terms: what a send may retry (rate limits with the server's
 * `retry_after_ms`, network, 5xx, an expired token) and what is final (forbidden, unknown room,
 * too large), and which failures mean the configuration is wrong.
 */
import { ConfigError, describeError, SendError } from "../../lib/errors.ts";
import { MatrixError } from "./api.ts";

/** The homeserver refused the credentials (not the network's fault: retrying will not help). */
export const isAuthFailure = (err: unknown): boolean =>
  err instanceof MatrixError && (err.errcode === "M_UNKNOWN_TOKEN" || err.errcode === "M_MISSING_TOKEN" || (err.errcode === "M_FORBIDDEN" && err.status === 403) || err.errcode === "M_USER_DEACTIVATED");

/** A failed send or lookup as a SendError: rate limits carry the server's wait; 4xx but 401/408/429 are final. */
export function sendFailure(err: unknown, what: string): SendError {
  if (err instanceof SendError) return err;
  if (!(err instanceof MatrixError)) return new SendError(`Matrix: ${what} failed: ${describeError(err)}`, true);
  if (err.status === 429 || err.errcode === "M_LIMIT_EXCEEDED") return new SendError(`Matrix rate limit: ${err.message}`, true, err.retryAfterMs ?? 1000);
  const retryable = err.status === 0 || err.status === 401 || err.status === 408 || err.status >= 500;
  return new SendError(`Matrix: ${what} failed: ${err.message}`, retryable);
}

/** A connect-time failure: refused credentials become a ConfigError, a 429 keeps its wait for the link. */
export function connectFailure(err: unknown, homeserver: string): unknown {
  if (isAuthFailure(err)) {
    return new ConfigError(`matrix: ${homeserver} refused the bot's credentials (${(err as MatrixError).errcode}): check matrix.access_token or matrix.user_id/password`);
  }
  if (err instanceof MatrixError && err.status === 429) return sendFailure(err, "connecting");
  return err;
}
