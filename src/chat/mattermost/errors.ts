/**
 * Mattermost failures as SendError: lookups (missing or forbidden is final), posts (429 with the
 * server's wait, 401/408/5xx worth retrying) and the wording that never carries a token.
 */
import { ClientError } from "@mattermost/client";
import * as v from "valibot";
import { describeError, SendError } from "../../lib/errors.ts";

const ErrorBodySchema = v.object({ message: v.optional(v.string()) });

/** The HTTP status Client4 read from Mattermost's error body (`status_code`), if any. */
export function statusOf(err: unknown): number | undefined {
  return err instanceof ClientError && typeof err.status_code === "number" ? err.status_code : undefined;
}


/** The lookup found nothing: final, and the signal for trying the next reading of a name. */
export class NotFoundError extends SendError {
  constructor(what: string) {
    super(`Mattermost: ${what} does not exist`, false);
  }
}

/** A failed lookup of `what` as a SendError: missing or forbidden is final, anything else may pass. */
export function lookupFailure(err: unknown, what: string): SendError {
  const status = statusOf(err);
  if (status === 403) return new SendError(`Mattermost: the bot may not see ${what}`, false);
  if (status === 404 || status === 400) return new NotFoundError(what);
  return new SendError(`Mattermost: looking up ${what} failed: ${describeError(err)}`, true);
}

/** A lookup that does not find anything is `undefined`; other failures still throw. */
export async function unlessMissing<T>(found: Promise<T>): Promise<T | undefined> {
  try {
    return await found;
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/** Retry-After (seconds or HTTP date), else X-Ratelimit-Reset (seconds), else one second. */
export function retryAfterMs(headers: Headers, now = Date.now()): number {
  const after = headers.get("retry-after");
  if (after) {
    const secs = Number(after);
    if (Number.isFinite(secs)) return Math.max(0, Math.ceil(secs * 1000));
    const date = Date.parse(after);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = Number(headers.get("x-ratelimit-reset"));
  return Number.isFinite(reset) && reset > 0 ? Math.ceil(reset * 1000) : 1000;
}

/** A refused post (`res.ok` false) as a SendError, with the server's reason when it gave one. */
export async function postFailure(res: Response): Promise<SendError> {
  if (res.status === 429) return new SendError("Mattermost rate limit (429)", true, retryAfterMs(res.headers));
  const body = v.safeParse(ErrorBodySchema, await res.json().catch(() => ({})));
  const reason = body.success && body.output.message ? body.output.message : res.statusText;
  const text = `Mattermost refused the post (${res.status}): ${reason}`;
  // 401: the session expired or the token was revoked: worth retrying once credentials are back.
  return new SendError(text, res.status === 401 || res.status === 408 || res.status >= 500);
}
