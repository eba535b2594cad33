/**
 * The outbox's per-target lanes: one queue per target key (`user:alice`, `channel:#ops`), each
 * with its own backoff and rate bucket, run one step at a time in id order (a step sends one
 * message, or several at the head of the queue as one when the backend can). Targets are
 * independent: a hung or failing target never delays another. What one step does is the
 * outbox's business (`LanesOptions.step`); this module only decides when a lane runs: a lane is
 * run in a microtask, except the first step for a message just stored on an idle lane, which
 * runs in the `push` that queued it (see `push`).
 */
import type { Backoff } from "../lib/backoff.ts";
import { logger } from "../lib/log.ts";
import { type Rate, TokenBucket } from "../lib/rate.ts";
import type { Entry } from "./outbox-table.ts";
import { Queue } from "./queue.ts";

const log = logger("delivery.outbox");

/**
 * Idle lanes kept for reuse (their queue, backoff and bucket): the next message for the same
 * target (the next command's ack) then allocates none of it. Past this many lanes an idle one is
 * dropped as before, so one-off targets do not pile up.
 */
const KEEP_IDLE = 64;

/** Steps a lane makes before letting the event loop run… */
const YIELD_EVERY = 32;
/** …or milliseconds it runs (steps that send many messages each), whichever comes first. */
const YIELD_AFTER_MS = 2;

/** One target's queue and the state of its sending. */
export interface Lane {
  key: string;
  queue: Queue<Entry>;
  running: boolean;
  /** How many entries at the head of the queue the step in progress sends: nothing is queued in front of them. */
  sending: number;
  /**
   * After a failed step of many: how many entries at the head go one at a time, each through its
   * own send, so that the service's answer names the one it refuses (a batch's refusal does not).
   */
  alone: number;
  /** Set while the lane waits (backoff, rate limit) before its next step. */
  timer?: ReturnType<typeof setTimeout>;
  /** No step before this time (a retry's backoff or a service's Retry-After). */
  readyAt: number;
  backoff: Backoff;
  /** The per-target rate (the backend's `sendRate`); absent when unlimited. */
  bucket?: TokenBucket;
  /** The step in progress, for `stop()` to wait on. */
  inflight?: Promise<void>;
}

/** What the lanes run and when they may. */
export interface LanesOptions {
  /**
   * Works on the lane's head (`queue.peek()`, never empty); gives how long to wait before the
   * next step (0: go on): a number when the step was over before it returned, else a promise.
   * It removes the head itself once the head is done.
   */
  step: (lane: Lane) => number | Promise<number>;
  /** True while delivery runs (started and not stopped). */
  active: () => boolean;
  now: () => number;
  /** A fresh backoff for a new lane. */
  backoff: () => Backoff;
  /** Each target's rate; absent when unlimited. */
  rate?: Rate;
}

/** Every lane with work or a rate bucket not yet refilled; idle lanes are dropped. */
export class Lanes {
  private readonly lanes = new Map<string, Lane>();

  constructor(private readonly opts: LanesOptions) {}

  /**
   * Queues `entry` in its target's lane, in id order but never in front of the head, and runs it.
   * `now` (a message just stored): when the lane is idle (nothing queued, nothing in flight, not
   * waiting for a retry or a rate token), its first step runs in this very call, so a send the
   * backend confirms at once is out before `push` returns; the rest of the run (what else
   * arrives meanwhile) goes on in a microtask, as always.
   */
  push(entry: Entry, now = false): void {
    let lane = this.lanes.get(entry.key);
    if (!lane) {
      lane = this.newLane(entry.key);
      this.lanes.set(entry.key, lane);
    }
    if (now && !lane.running && !lane.timer && lane.queue.size === 0 && this.opts.active()) return this.runNow(lane, entry);
    // Never in front of the head (it may be half sent), nor of the entries being sent with it.
    lane.queue.insertSorted(entry, (e) => e.id, lane.running || lane.timer ? Math.max(1, lane.sending) : 0);
    this.kick(lane);
  }

  /** Forgets every lane and its timer (before `start()` reloads the queues from the table). */
  clear(): void {
    for (const lane of this.lanes.values()) if (lane.timer) clearTimeout(lane.timer);
    this.lanes.clear();
  }

  /** Cancels every waiting lane's timer and returns the steps still in flight (for `stop()`). */
  halt(): Promise<void>[] {
    const inflight: Promise<void>[] = [];
    for (const lane of this.lanes.values()) {
      if (lane.timer) clearTimeout(lane.timer);
      lane.timer = undefined;
      if (lane.inflight) inflight.push(lane.inflight);
    }
    return inflight;
  }

  private newLane(key: string): Lane {
    const rate = this.opts.rate;
    return {
      key,
      queue: new Queue<Entry>(),
      running: false,
      sending: 0,
      alone: 0,
      readyAt: 0,
      backoff: this.opts.backoff(),
      bucket: rate ? new TokenBucket(rate, this.opts.now()) : undefined,
    };
  }

  /** Runs a lane unless it is running or waiting; never reentrant with the caller. */
  private kick(lane: Lane): void {
    if (lane.running || lane.timer || !this.opts.active()) return;
    lane.running = true;
    queueMicrotask(() => void this.run(lane));
  }

  /** `push(entry, true)` on an idle lane: the first step now, the rest of the run in a microtask. */
  private runNow(lane: Lane, entry: Entry): void {
    lane.queue.insertSorted(entry, (e) => e.id, 0);
    lane.running = true;
    let first: number | Promise<number>;
    try {
      first = this.opts.step(lane);
    } catch (err) {
      first = Promise.reject(err);
    }
    if (typeof first !== "number") lane.inflight = first.then(() => undefined, () => undefined);
    queueMicrotask(() => void this.run(lane, first));
  }

  /** Runs the lane's steps until its queue is empty or it must wait; `first`: a step already taken (`runNow`). */
  private async run(lane: Lane, first?: number | Promise<number>): Promise<void> {
    try {
      if (first !== undefined) {
        const wait = typeof first === "number" ? first : await first;
        lane.inflight = undefined;
        if (wait > 0) return this.runLater(lane, wait);
      }
      let since = performance.now();
      for (let steps = 1; this.opts.active() && lane.queue.size > 0; steps++) {
        // A backend that confirms at once keeps this loop in one turn; yield now and then so
        // the stream keeps being read and confirmed rows get deleted.
        if (steps % YIELD_EVERY === 0 || performance.now() - since > YIELD_AFTER_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          since = performance.now();
        }
        const step = this.opts.step(lane);
        let wait: number;
        if (typeof step === "number") wait = step;
        else {
          lane.inflight = step.then(() => undefined, () => undefined);
          wait = await step;
          lane.inflight = undefined;
        }
        if (wait > 0) return this.runLater(lane, wait);
      }
      this.forgetIdle(lane);
    } catch (err) {
      // A bug or a database error: log it and try again later rather than stall the target.
      log.error("delivery lane failed", { target: lane.key, error: String(err) });
      this.runLater(lane, 1000);
    } finally {
      lane.inflight = undefined;
      lane.running = false;
    }
  }

  /**
   * Runs the lane again after `ms`. Not once stopped: a send that was in flight during `stop()`
   * ends later, and its retry timer would otherwise keep the process alive for up to a minute.
   */
  private runLater(lane: Lane, ms: number): void {
    if (!this.opts.active()) return;
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      this.kick(lane);
    }, ms);
  }

  /**
   * Drops an idle lane once its rate bucket refilled, so many one-off targets do not pile up;
   * while there are few lanes, an idle one without a bucket is kept for the target's next message.
   */
  private forgetIdle(lane: Lane): void {
    if (lane.queue.size === 0 && !lane.timer && (!lane.bucket || lane.bucket.full(this.opts.now()))) {
      if (!lane.bucket && this.lanes.size <= KEEP_IDLE) {
        // As a fresh lane would start: no failures behind it.
        lane.alone = 0;
        lane.backoff.reset();
        return;
      }
      this.lanes.delete(lane.key);
    }
  }
}
