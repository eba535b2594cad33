/**
 * The delivering half of the outbox: stored entries go into their target's lane, each step
 * sends one part (within the target's and the whole backend's rate), a failure is judged by
 * retry.ts, a confirmed message's row is deleted in a batch (confirmations.ts). It keeps the
 * counts `!status` shows and tells `drain` when nothing is pending any more.
 *
 * A backend with `sendMany` (one write confirms many messages: the terminal) gets, in one step,
 * up to MAX_BATCH parts from the head of the lane's queue, in order, as far as the rates allow
 * and while they go to the same place. All of them count as sent only once the backend
 * confirmed the whole batch; a failed batch leaves every one of them queued (and stored), and
 * they are then sent one at a time, so each one's own send decides whether it failed or is dead.
 *
 * A message admitted while its lane is idle takes its first step in the call that stored it
 * (the ack of a command: out right after its INSERT, not a microtask later), with the same
 * checks as any step: rate tokens, retry time, confirmation before its row goes. A send the
 * backend confirmed before returning (`DONE`) is recorded in the same turn, without a timer.
 */
import type { ActionRequest, ChatAction, ChatBackend } from "../chat/types.ts";
import type { Backoff } from "../lib/backoff.ts";
import { isRetryable } from "../lib/errors.ts";
import { logger, logs } from "../lib/log.ts";
import { type Rate, TokenBucket } from "../lib/rate.ts";
import { DONE } from "../lib/timeout.ts";
import type { Sealer } from "../store/seal.ts";
import type { Announcement } from "./announcement.ts";
import { Confirmations } from "./confirmations.ts";
import type { Stored } from "./intake.ts";
import { type Lane, Lanes } from "./lanes.ts";
import type { Entry, OutboxTable } from "./outbox-table.ts";
import { afterFailure, type RetryPolicy } from "./retry.ts";
import { type Part, Sender } from "./send.ts";

const log = logger("delivery.outbox");

/**
 * Most parts one `sendMany` carries: what a crash between the confirmation and the delete can
 * send twice (a confirmed batch's rows are deleted right after, see confirmations.ts); a bigger
 * batch saves little more per message.
 */
const MAX_BATCH = 64;

/** What the dispatcher sends through and whom it tells; durations are milliseconds. */
export interface DispatchOptions {
  table: OutboxTable;
  backend: ChatBackend;
  /** Opens the sealed texts the intake stored. */
  sealer: Sealer;
  now: () => number;
  /** Told after every write (the WAL checkpointer). */
  wrote: () => void;
  /** A message still failing this long after it was accepted (or replayed) is dead. */
  deadAfterMs: number;
  /** A fresh retry backoff for each target. */
  backoff: () => Backoff;
  /** A send or resolve not confirmed within this is a retryable failure. */
  sendTimeoutMs: number;
  /** The whole backend's rate, on top of each target's `backend.sendRate`; absent: unlimited. */
  overallRate?: Rate;
  onDelivered?: (id: number, announcement: Announcement) => void;
  onDead?: (id: number, reason: string) => void;
  issueActions?: (requests: ActionRequest[]) => ChatAction[];
}

/** Runs delivery between `start` and `stop` (see the file comment). */
export class Dispatcher {
  private readonly lanes: Lanes;
  private readonly sender: Sender;
  private readonly retry: RetryPolicy;
  private readonly confirmations: Confirmations;
  private readonly overall?: TokenBucket;
  private started = false;
  private stopped = false;
  private pending = 0;
  private delivered = 0;
  private failedAttempts = 0;
  private waiters: Array<() => void> = [];

  constructor(private readonly opts: DispatchOptions) {
    const { table, now } = opts;
    this.sender = new Sender({ backend: opts.backend, sealer: opts.sealer, now, sendTimeoutMs: opts.sendTimeoutMs, issueActions: opts.issueActions });
    this.lanes = new Lanes({ step: (lane) => this.step(lane), active: () => this.active, now, rate: opts.backend.sendRate, backoff: opts.backoff });
    this.retry = {
      table,
      now,
      deadAfterMs: opts.deadAfterMs,
      dead: (lane, entry, reason) => this.dead(lane, entry, reason),
      forgetTarget: (key) => this.sender.forget(key),
      countFailure: () => this.failedAttempts++,
    };
    this.confirmations = new Confirmations({ table, wrote: opts.wrote, flushed: (batch) => this.flushed(batch) });
    if (opts.overallRate) this.overall = new TokenBucket(opts.overallRate, now());
  }

  /** True between `start` and `stop`. */
  get active(): boolean {
    return this.started && !this.stopped;
  }

  /** True once `stop` was called (until the next `start`). */
  get halted(): boolean {
    return this.stopped;
  }

  /** Starts delivering `pending` (every row a previous run left), forgetting any earlier lanes. */
  start(pending: Entry[]): void {
    this.lanes.clear();
    this.started = true;
    this.stopped = false;
    this.pending = 0;
    this.requeue(pending);
  }

  /**
   * Stops at once (nothing more is admitted or sent), then waits up to `graceMs` for sends in
   * flight and deletes the rows they confirmed. Does nothing more when it was not running.
   */
  async stop(graceMs: number): Promise<void> {
    const running = this.active;
    this.stopped = true;
    if (!running) return;
    const inflight = this.lanes.halt();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.allSettled(inflight), grace]);
    clearTimeout(timer);
    this.confirmations.flush();
  }

  /** Hands a stored message to its target's lane (or reports it dead); ignored while not running. */
  admit(s: Stored): void {
    if (s.deadReason) return this.reportDead(s.id, s.key, s.deadReason);
    if (!this.active) return;
    this.pending++;
    if (logs("debug")) log.debug("stored", { id: s.id, target: s.key });
    // Stored just now: on an idle lane it is sent in this very turn (lanes.ts `push`).
    this.lanes.push({ id: s.id, key: s.key, payload: s.payload, acceptedAt: s.acceptedAt, createdAt: s.acceptedAt, attempts: 0, partsSent: 0, announcement: s.announcement }, true);
  }

  /** Queues entries read back from the table (pending at start, or replayed); ignored while not running. */
  requeue(entries: Entry[]): void {
    if (!this.active) return;
    for (const entry of entries) {
      this.pending++;
      this.lanes.push(entry);
    }
  }

  /** This run's counts: pending (in memory), delivered, failed attempts. */
  counts(): { pending: number; delivered: number; failedAttempts: number } {
    return { pending: this.pending, delivered: this.delivered, failedAttempts: this.failedAttempts };
  }

  /** Resolves true once nothing is pending (every message delivered or dead), false after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending > 0 || this.confirmations.waiting > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  /**
   * Sends the next part of the lane's head, or a batch; returns how long to wait before the next
   * step (0: go on), as a number when the step is over before it returns (nothing was sent, or
   * the backend confirmed at once: `DONE`), else as a promise.
   */
  private step(lane: Lane): number | Promise<number> {
    const entry = lane.queue.peek()!;
    const now = this.opts.now();
    if (lane.readyAt > now) return lane.readyAt - now;
    const unsendable = this.sender.prepare(entry);
    if (unsendable) {
      this.dead(lane, entry, unsendable);
      return 0;
    }
    const rateWait = Math.max(lane.bucket?.wait(now) ?? 0, this.overall?.wait(now) ?? 0);
    if (rateWait > 0) return rateWait;
    lane.bucket?.take();
    this.overall?.take();
    if (this.opts.backend.sendMany && lane.alone === 0 && lane.queue.size > 1) return this.stepMany(lane, now);
    const sending = this.sender.sendNextPart(entry);
    if (sending === DONE) return this.sent(lane, entry);
    return sending.then(
      () => this.sent(lane, entry),
      (err) => afterFailure(this.retry, lane, entry, err),
    );
  }

  /** The backend confirmed the head's next part: records it; the whole message done, its row goes. */
  private sent(lane: Lane, entry: Entry): number {
    entry.partsSent++;
    if (entry.partsSent < entry.parts!.length) {
      this.opts.table.progress(entry.id, entry.partsSent);
      return 0;
    }
    lane.queue.shift();
    if (lane.alone > 0) lane.alone--;
    lane.backoff.reset();
    if (logs("debug")) log.debug("sent and confirmed", { id: entry.id, target: entry.key });
    this.confirmations.add(entry);
    return 0;
  }

  /**
   * One `sendMany` of the parts at the head of the lane (the head's next part has its rate
   * token already); see the file comment.
   */
  private stepMany(lane: Lane, now: number): number | Promise<number> {
    const parts = this.batchOf(lane, now);
    const head = parts[0]!.entry;
    let entries = 0;
    for (let i = 0; i < parts.length; i++) if (i === 0 || parts[i]!.entry !== parts[i - 1]!.entry) entries++;
    lane.sending = entries;
    const sending = this.sender.sendParts(parts);
    const confirmed = () => {
      lane.sending = 0;
      return this.sentMany(lane, parts);
    };
    if (sending === DONE) return confirmed();
    return sending.then(confirmed, (err) => {
      lane.sending = 0;
      // None of them counts as sent; they go one at a time next, so the service's answer to
      // each tells which one it refuses, if any (a batch's refusal names no message).
      lane.alone = entries;
      return isRetryable(err) ? afterFailure(this.retry, lane, head, err) : 0;
    });
  }

  /** The backend confirmed every part of a `stepMany` batch: records them; complete messages' rows go. */
  private sentMany(lane: Lane, parts: Part[]): number {
    const head = parts[0]!.entry;
    const confirmed: Entry[] = [];
    for (const { entry, index } of parts) {
      entry.partsSent = index + 1;
      if (entry.partsSent < entry.parts!.length) continue;
      // Complete entries are the front of the queue, in order (nothing was queued among them).
      lane.queue.shift();
      confirmed.push(entry);
    }
    const last = parts[parts.length - 1]!.entry;
    if (last.partsSent < last.parts!.length) this.opts.table.progress(last.id, last.partsSent);
    lane.backoff.reset();
    if (logs("debug")) log.debug("sent and confirmed as one batch", { ids: confirmed.map((e) => e.id), target: head.key });
    this.confirmations.addAll(confirmed);
    return 0;
  }

  /**
   * The head's next part, then every following part of the lane, in order, as long as each
   * message is sendable, goes to the head's place, and a rate token is left for it.
   */
  private batchOf(lane: Lane, now: number): Part[] {
    const head = lane.queue.peek()!;
    const parts: Part[] = [{ entry: head, index: head.partsSent }];
    let entry: Entry | undefined = head;
    let index = head.partsSent + 1;
    for (let i = 0; entry && parts.length < MAX_BATCH; ) {
      if (index >= entry.parts!.length) {
        entry = lane.queue.at(++i);
        // An unsendable one is left for its own step (it becomes the head, then dead).
        if (!entry || this.sender.prepare(entry) || !this.sender.sameThread(head, entry)) break;
        index = entry.partsSent;
        continue;
      }
      if ((lane.bucket?.wait(now) ?? 0) > 0 || (this.overall?.wait(now) ?? 0) > 0) break;
      lane.bucket?.take();
      this.overall?.take();
      parts.push({ entry, index: index++ });
    }
    return parts;
  }

  private dead(lane: Lane, entry: Entry, reason: string): void {
    this.opts.table.markDead(entry.id, reason, entry.attempts);
    lane.queue.shift();
    if (lane.alone > 0) lane.alone--;
    this.pending--;
    this.reportDead(entry.id, entry.key, reason);
    this.wake();
  }

  private reportDead(id: number, key: string, reason: string): void {
    log.error("MESSAGE NOT DELIVERED: kept as dead, replay it once the cause is fixed", { id, target: key, reason });
    this.opts.onDead?.(id, reason);
  }

  /** Counts and reports a batch of confirmed messages whose rows were deleted. */
  private flushed(batch: Entry[]): void {
    this.pending -= batch.length;
    this.delivered += batch.length;
    if (this.opts.onDelivered) for (const e of batch) this.opts.onDelivered(e.id, e.announcement!);
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
