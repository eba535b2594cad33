/**
 * The delivering half of the outbox: stored entries go into their target's lane, each step
 * sends one part (within the target's and the whole backend's rate), a failure is judged by
 * retry.ts, a confirmed message's row is deleted in a batch (confirmations.ts). It keeps the
 * counts `!status` shows and tells `drain` when nothing is pending any more.
 */
import type { ActionRequest, ChatAction, ChatBackend } from "../chat/types.ts";
import type { Backoff } from "../lib/backoff.ts";
import { logger } from "../lib/log.ts";
import { type Rate, TokenBucket } from "../lib/rate.ts";
import type { Sealer } from "../store/seal.ts";
import type { Announcement } from "./announcement.ts";
import { Confirmations } from "./confirmations.ts";
import type { Stored } from "./intake.ts";
import { type Lane, Lanes } from "./lanes.ts";
import type { Entry, OutboxTable } from "./outbox-table.ts";
import { afterFailure, type RetryPolicy } from "./retry.ts";
import { Sender } from "./send.ts";

const log = logger("delivery.outbox");

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
    log.debug("stored", { id: s.id, target: s.key });
    this.lanes.push({ id: s.id, key: s.key, payload: s.payload, acceptedAt: s.acceptedAt, createdAt: s.acceptedAt, attempts: 0, partsSent: 0, announcement: s.announcement });
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

  /** Sends the next part of the lane's head; returns how long to wait before the next step (0: go on). */
  private async step(lane: Lane): Promise<number> {
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
    try {
      await this.sender.sendNextPart(entry);
    } catch (err) {
      return afterFailure(this.retry, lane, entry, err);
    }
    entry.partsSent++;
    if (entry.partsSent < entry.parts!.length) {
      this.opts.table.progress(entry.id, entry.partsSent);
      return 0;
    }
    lane.queue.shift();
    lane.backoff.reset();
    log.debug("sent and confirmed", { id: entry.id, target: entry.key });
    this.confirmations.add(entry);
    return 0;
  }

  private dead(lane: Lane, entry: Entry, reason: string): void {
    this.opts.table.markDead(entry.id, reason, entry.attempts);
    lane.queue.shift();
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
