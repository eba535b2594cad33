/**
 * What a failed send attempt means for its message: dead now (the service rejected it: unknown
 * target, refused content), a rate limit waited out exactly as long as the service asked (not a
 * failure: no attempt counted), or a failure retried with the lane's backoff until `deadAfterMs`
 * after the message was accepted (or replayed), then dead.
 */
import { describeError, isRetryable, SendError } from "../lib/errors.ts";
import { logger } from "../lib/log.ts";
import type { Lane } from "./lanes.ts";
import type { Entry, OutboxTable } from "./outbox-table.ts";

const log = logger("delivery.outbox");

/** What the retry policy reads and whom it tells. */
export interface RetryPolicy {
  table: OutboxTable;
  now: () => number;
  /** A message still failing this long after it was accepted (or replayed) is dead. */
  deadAfterMs: number;
  /** Keeps `entry` as dead with `reason` (and takes it off its lane). */
  dead: (lane: Lane, entry: Entry, reason: string) => void;
  /** The target of `key` was rejected: resolve it afresh next time. */
  forgetTarget: (key: string) => void;
  /** Counts a failed attempt (rate-limit waits are not counted). */
  countFailure: () => void;
}

/**
 * Applies `policy` to the failure `err` of `entry`'s attempt on `lane`: records it in the table,
 * sets `lane.readyAt`, and returns how long the lane waits before its next step (0: go on,
 * the entry went dead).
 */
export function afterFailure(policy: RetryPolicy, lane: Lane, entry: Entry, err: unknown): number {
  const reason = describeError(err);
  const now = policy.now();
  if (!isRetryable(err)) {
    policy.forgetTarget(entry.key);
    policy.dead(lane, entry, reason);
    return 0;
  }
  const retryAfter = err instanceof SendError ? err.retryAfterMs : undefined;
  if (retryAfter !== undefined) {
    // A rate limit is queueing, not failing: wait exactly as long as the service asked.
    const wait = Math.max(0, retryAfter);
    lane.readyAt = now + wait;
    policy.table.failed(entry.id, entry.attempts, lane.readyAt, `rate limited: ${reason}`);
    log.warn("rate limited by the chat service", { target: entry.key, retryAfterMs: wait });
    return wait;
  }
  entry.attempts++;
  policy.countFailure();
  if (now >= entry.acceptedAt + policy.deadAfterMs) {
    policy.dead(lane, entry, `still failing after ${Math.round(policy.deadAfterMs / 1000)} s: ${reason}`);
    return 0;
  }
  const delay = lane.backoff.next();
  lane.readyAt = now + delay;
  policy.table.failed(entry.id, entry.attempts, lane.readyAt, reason);
  log.warn("send failed, will retry", { id: entry.id, target: entry.key, attempt: entry.attempts, retryInMs: delay, error: reason });
  return delay;
}
