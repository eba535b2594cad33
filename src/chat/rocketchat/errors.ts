/**
 * Rocket.Chat's REST failures as SendError: the rate limiter's 429 (wait until
 * `X-RateLimit-Reset`), a lost session (401), refusals (400/403, final) and server trouble.
 */
import * as v from "valibot";
import { SendError } from "../../lib/errors.ts";

/** Rocket.Chat's error bodies: `{success:false, error, errorType?}` or `{status:"error", message}`. */
const ErrorBodySchema = v.object({
  error: v.optional(v.unknown()),
  errorType: v.optional(v.unknown()),
  message: v.optional(v.unknown()),
});

/** The longest wait a 429 is trusted for; a wrong clock must not park the outbox for a day. */
const MAX_WAIT_MS = 10 * 60_000;
/** `Date` has whole seconds and servers cache it: clocks closer than this are taken to agree. */
const MAX_SKEW_MS = 3_000;

/** A refused REST call: the HTTP status and Rocket.Chat's own error id (`errorType`) when given. */
export class RestError extends SendError {
  constructor(
    message: string,
    retryable: boolean,
    readonly status: number,
    readonly errorType: string | undefined,
    retryAfterMs?: number,
  ) {
    super(message, retryable, retryAfterMs);
  }
}


/**
 * How long a 429 asks to wait. `X-RateLimit-Reset` is the server's clock in epoch milliseconds.
 * Our clock measures it while the two agree within the `Date` header's coarseness; a server
 * clock further off is read from `Date` itself (whole seconds, so the wait comes out long, never
 * short). Without the header, the "wait N seconds" of the error text; else one second.
 */
export function retryAfterMs(headers: Headers, errorText: string, now = Date.now()): number {
  const reset = Number(headers.get("x-ratelimit-reset"));
  if (Number.isFinite(reset) && reset > 0) {
    const serverNow = Date.parse(headers.get("date") ?? "");
    const skewed = !Number.isNaN(serverNow) && Math.abs(serverNow - now) > MAX_SKEW_MS;
    const wait = reset - (skewed ? serverNow : now);
    return Math.min(MAX_WAIT_MS, Math.max(0, Math.ceil(wait)));
  }
  const secs = /wait (\d+) seconds/.exec(errorText);
  return secs ? Math.min(MAX_WAIT_MS, Number(secs[1]) * 1000) : 1000;
}

/** A non-2xx answer to `what` as a RestError (never echoing credentials: bodies carry none). */
export async function restFailure(res: Response, what: string): Promise<RestError> {
  const raw: unknown = await res.json().catch(() => ({}));
  const body = v.safeParse(ErrorBodySchema, raw);
  const text = (x: unknown) => (typeof x === "string" ? x : undefined);
  const error = body.success ? (text(body.output.error) ?? text(body.output.message)) : undefined;
  const errorType = body.success ? text(body.output.errorType) : undefined;
  const reason = (error ?? res.statusText) || `HTTP ${res.status}`;
  if (res.status === 429) return new RestError(`Rocket.Chat rate limit on ${what} (429): ${reason}`, true, 429, errorType, retryAfterMs(res.headers, reason));
  // 401: the session expired or the token was revoked; worth retrying once credentials are back.
  const retryable = res.status === 401 || res.status === 408 || res.status >= 500;
  return new RestError(`Rocket.Chat refused ${what} (${res.status}): ${reason}`, retryable, res.status, errorType ?? text(body.success ? body.output.error : undefined));
}
