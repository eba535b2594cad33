/**
 * The durable outbox. Every announcement (StackStorm stream, webhook, the bot itself) is written
 * to SQLite before anything else and deleted only after the chat backend confirmed the send.
 *
 * Durability: what a webhook or the stream hands over is committed with synchronous=FULL (fsync
 * before the commit returns: survives a power loss); the bot's own replies with NORMAL (survive
 * a crash of st2bot; a power loss can take the last ones). See `durably`.
 *
 * Delivery guarantee: at least once. A message is lost only if the database file is. A message
 * can be sent twice when st2bot dies (kill -9, power loss) after the backend confirmed a part
 * and before that confirmation reached the database: the deletes of confirmed messages are
 * batched into one transaction per event-loop turn, and part progress is written right after
 * each part, so the window is one turn of sends (or one part of a split message). A send that
 * timed out is retried even though the service may have posted it late.
 *
 * Ordering: strictly by id per target key (`user:alice`, `channel:#ops`). Targets are
 * independent: each has its own queue, backoff and rate bucket, and a hung or failing target
 * never delays another (every send has a timeout). A message that fails past `deadAfterMs`
 * after it was accepted (or replayed), or that can never be sent (unknown target, rejected
 * content), is kept as dead: visible in `listDead`, logged, re-playable with `replay`.
 */
import type { Database, Statement } from "bun:sqlite";
import type { ActionRequest, ChatAction, ChatBackend, Outgoing, Target } from "../chat/types.ts";
import { Backoff } from "../lib/backoff.ts";
import { describeError, isRetryable, SendError } from "../lib/errors.ts";
import { logger } from "../lib/log.ts";
import { type Announcement, targetKey, targetOf, threadOf } from "./announcement.ts";
import { splitMessage } from "./split.ts";
import { withTimeout } from "../lib/timeout.ts";
import { Sealer } from "../store/seal.ts";
import { openBody, sealBody } from "./sealed.ts";

const log = logger("delivery.outbox");

/** Who handed a message over; stored with it and shown in `!st2outbox`. */
export type OutboxSource = "stream" | "webhook" | "bot";

/** A token-bucket rate: `burst` sends at once, then `perSecond` on average. */
export interface Rate {
  perSecond: number;
  burst: number;
}

/** The outbox's database, backend and timing; the durations are milliseconds. */
export interface OutboxOptions {
  db: Database;
  backend: ChatBackend;
  /** Milliseconds since the epoch; injected for tests. */
  clock?: () => number;
  /** A message still failing this long after it was accepted (or replayed) is dead. */
  deadAfterMs: number;
  /** The cap of the per-target retry backoff. */
  maxRetryDelayMs: number;
  /** The first retry delay (default 500 ms), growing ×1.75 with jitter up to `maxRetryDelayMs`. */
  initialRetryDelayMs?: number;
  /** A send or resolve not confirmed within this is treated as a retryable failure (default 30 s). */
  sendTimeoutMs?: number;
  /** How long `stop()` waits for sends in flight (default 2 s). */
  stopGraceMs?: number;
  /** The whole backend's send rate; default ten times `backend.sendRate` (unlimited without one). */
  overallRate?: Rate;
  /** Jitter source for the backoff (tests pass a constant). */
  random?: () => number;
  /** After a message's every part was confirmed (and its row deleted). */
  onDelivered?: (id: number, announcement: Announcement) => void;
  /** When a message is kept as dead. */
  onDead?: (id: number, reason: string) => void;
  /**
   * Seals the text of messages marked `secret` before they are stored (see `sealBody`); default
   * a key for this process only, so such a text is never stored in clear, even without one.
   */
  sealer?: Sealer;
  /**
   * Issues the callback tokens of a message's `actions` at send time, fresh on every attempt,
   * so no usable token is ever stored in the outbox. Absent: actions are dropped (text only).
   */
  issueActions?: (requests: ActionRequest[]) => ChatAction[];
}

/** Counts for `!status` and `/metrics`. */
export interface OutboxStats {
  /** Accepted and neither confirmed nor dead. */
  pending: number;
  dead: number;
  /** Confirmed and deleted since this Outbox was created. */
  delivered: number;
  /** Failed send attempts since this Outbox was created (rate-limit waits excluded). */
  failedAttempts: number;
}

/** A message kept as dead, as `!st2outbox` lists it (`announcement` undefined when unreadable). */
export interface DeadMessage {
  id: number;
  targetKey: string;
  source: string;
  createdAt: number;
  attempts: number;
  lastError: string | null;
  announcement: Announcement | undefined;
}

/** One accepted row, in memory while it waits for delivery. */
interface Entry {
  id: number;
  key: string;
  payload: string;
  acceptedAt: number;
  /** When the row was stored (never changes, unlike acceptedAt on replay): part of its send ids. */
  createdAt: number;
  attempts: number;
  partsSent: number;
  announcement?: Announcement;
  parts?: string[];
}

interface Lane {
  key: string;
  queue: Queue<Entry>;
  running: boolean;
  timer?: ReturnType<typeof setTimeout>;
  readyAt: number;
  backoff: Backoff;
  bucket?: TokenBucket;
  inflight?: Promise<void>;
}

/** An announcement waiting for this turn's batch; `resolve`/`reject` when someone waits (`accept`). */
interface Waiting {
  a: Announcement;
  source: OutboxSource;
  resolve?: (id: number) => void;
  reject?: (err: Error) => void;
}

/** A message stored but not yet handed to delivery (see `admit`). */
interface Stored {
  id: number;
  key: string;
  payload: string;
  acceptedAt: number;
  announcement: Announcement;
  /** Why it is dead at once (it names no target), or null. */
  deadReason: string | null;
}

interface Row {
  id: number;
  target_key: string;
  payload: string;
  source: string;
  created_at: number;
  attempts: number;
  parts_sent: number;
  replayed_at: number | null;
  last_error: string | null;
}

const RESOLVE_CACHE_MS = 5 * 60_000;
const NO_TARGET = "none:";

/** The durable outbox (see the file comment for its guarantees). */
export class Outbox {
  private readonly db: Database;
  private readonly backend: ChatBackend;
  private readonly now: () => number;
  private readonly opts: OutboxOptions;
  private readonly sendTimeoutMs: number;
  private readonly lanes = new Map<string, Lane>();
  private readonly resolved = new Map<string, { target: Target; until: number }>();
  private readonly overall?: TokenBucket;
  private readonly sql: ReturnType<typeof prepare>;
  private readonly sealer: Sealer;
  private done: Entry[] = [];
  private flushScheduled = false;
  private batch: Waiting[] = [];
  private batchRetry: ReturnType<typeof setTimeout> | undefined;
  private started = false;
  private stopped = false;
  private pending = 0;
  private delivered = 0;
  private failedAttempts = 0;
  private waiters: Array<() => void> = [];
  /** Written since the last checkpoint; when the last write was (see `wrote`). */
  private dirty = false;
  private lastWriteAt = 0;
  private checkpointTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(opts: OutboxOptions) {
    this.opts = opts;
    this.db = opts.db;
    this.backend = opts.backend;
    this.now = opts.clock ?? Date.now;
    this.sendTimeoutMs = opts.sendTimeoutMs ?? 30_000;
    this.sql = prepare(this.db);
    this.sealer = opts.sealer ?? Sealer.ephemeral();
    const rate = opts.overallRate ?? scaled(opts.backend.sendRate, 10);
    if (rate) this.overall = new TokenBucket(rate, this.now());
  }

  /**
   * Durably stores an announcement (one synchronous INSERT) and returns its id; delivery starts
   * right after, once `start()` was called. An announcement with neither channel nor user is
   * stored as dead at once (kept, logged), never dropped.
   */
  enqueue(a: Announcement, source: OutboxSource): number {
    return this.insert(a, source);
  }

  /**
   * `enqueue`, with `record` (the caller's own writes to the same database, e.g. the webhook's
   * replay record) run in the INSERT's transaction: both are stored or neither. A throw from
   * `record` rolls back and reaches the caller; nothing is then queued.
   */
  enqueueWith(a: Announcement, source: OutboxSource, record: () => void): number {
    const stored = this.db.transaction(() => {
      record();
      return this.store(a, source);
    })();
    this.admit(stored);
    return stored.id;
  }

  /**
   * For the stream: stores the announcement at the end of this turn of the event loop, in one
   * transaction with every other that arrived in it (one WAL commit instead of one each, which
   * is most of the cost under a burst). Still stored before any delivery starts.
   */
  enqueueSoon(a: Announcement, source: OutboxSource): void {
    if (this.batch.push({ a, source }) === 1) setImmediate(() => this.flushBatch());
  }

  /**
   * Like `enqueue`, for callers that can wait (the webhook answers 202 once this resolves):
   * joins this turn's batch, so concurrent posts share one durable commit (one fsync) instead
   * of one each. Resolves with the id once committed; rejects if it could not be stored (the
   * sender then hears an error and retries: nothing is kept that it was not told about).
   */
  accept(a: Announcement, source: OutboxSource): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.batch.push({ a, source, resolve, reject }) === 1) setImmediate(() => this.flushBatch());
    });
  }

  private flushBatch(): void {
    if (this.batchRetry) clearTimeout(this.batchRetry);
    this.batchRetry = undefined;
    const items = this.batch;
    this.batch = [];
    if (items.length === 0) return;
    let stored: Stored[];
    try {
      stored = this.durably(() => this.db.transaction(() => items.map(({ a, source }) => this.store(a, source)))());
    } catch (err) {
      // Whoever waits hears the failure now; the stream's announcements (no one to tell) are kept.
      for (const w of items) w.reject?.(err instanceof Error ? err : new Error(String(err)));
      // Runs from setImmediate: a throw would crash st2bot and lose every message held here.
      // Keep them and try again (a full disk or a locked database may well clear).
      this.batch = items.filter((w) => !w.reject).concat(this.batch);
      if (this.batch.length === 0) return;
      if (this.stopped) {
        log.error("MESSAGES NOT STORED: the outbox could not write them while stopping", { count: this.batch.length, error: String(err) });
        this.batch = [];
        return;
      }
      log.error("could not store announcements in the outbox; retrying in 1 s", { count: this.batch.length, error: String(err) });
      this.batchRetry = setTimeout(() => this.flushBatch(), 1000);
      return;
    }
    // Delivery starts only after the transaction committed, so nothing is sent that a rollback undid.
    stored.forEach((s, i) => {
      this.admit(s);
      items[i]!.resolve?.(s.id);
    });
  }

  private insert(a: Announcement, source: OutboxSource): number {
    // What someone else handed over (a webhook's 202) survives a power loss; the bot's own
    // replies need only survive a crash of st2bot (in the WAL, synced at the next checkpoint).
    const stored = source === "bot" ? this.store(a, source) : this.durably(() => this.store(a, source));
    this.admit(stored);
    return stored.id;
  }

  /** The INSERT alone; an announcement without a target is stored dead at once. */
  private store(a: Announcement, source: OutboxSource): Stored {
    const target = targetOf(a);
    const key = target ? targetKey(target) : NO_TARGET;
    const now = this.now();
    const payload = a.secret ? sealBody(this.sealer, a, key) : JSON.stringify(a);
    const deadReason = target ? null : "the announcement names neither a channel nor a user";
    const id = Number(this.sql.insert.run(key, payload, source, now, deadReason ? 1 : 0, deadReason).lastInsertRowid);
    this.wrote();
    return { id, key, payload, acceptedAt: now, announcement: a, deadReason };
  }

  /**
   * Runs `write` with `synchronous = FULL`: its commit returns only once the WAL is on the
   * disk (fsync), so what it stored survives a power loss, not only a crash. The rest of the
   * outbox's writes (deletes, progress) stay NORMAL: losing one means a resend, not a loss.
   */
  private durably<T>(write: () => T): T {
    // exec, not a prepared statement: SQLite applies this PRAGMA when it compiles it.
    this.db.exec("PRAGMA synchronous = FULL");
    try {
      return write();
    } finally {
      this.db.exec("PRAGMA synchronous = NORMAL");
    }
  }

  /** Hands a stored message to its target's lane (or reports it dead). */
  private admit(s: Stored): void {
    if (s.deadReason) return this.reportDead(s.id, s.key, s.deadReason);
    if (!this.started || this.stopped) return;
    this.pending++;
    log.debug("stored", { id: s.id, target: s.key });
    this.push({ id: s.id, key: s.key, payload: s.payload, acceptedAt: s.acceptedAt, createdAt: s.acceptedAt, attempts: 0, partsSent: 0, announcement: s.announcement });
  }

  /** Starts delivering, beginning with every pending row a previous run left (crash recovery). */
  start(): void {
    if (this.started && !this.stopped) return;
    for (const lane of this.lanes.values()) if (lane.timer) clearTimeout(lane.timer);
    this.lanes.clear();
    this.started = true;
    this.stopped = false;
    this.pending = 0;
    const rows = this.sql.pending.all() as Row[];
    for (const row of rows) {
      this.pending++;
      this.push(entryOf(row));
    }
    if (rows.length > 0) log.info("resuming delivery of queued messages", { count: rows.length });
  }

  /** Stops delivering; waits up to `stopGraceMs` for sends in flight, then records what they confirmed. */
  async stop(): Promise<void> {
    const running = this.started && !this.stopped;
    // Stopped first, so a batch that fails to store now is reported rather than retried later.
    this.stopped = true;
    this.flushBatch();
    if (!running) return;
    const inflight: Promise<void>[] = [];
    for (const lane of this.lanes.values()) {
      if (lane.timer) clearTimeout(lane.timer);
      lane.timer = undefined;
      if (lane.inflight) inflight.push(lane.inflight);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.opts.stopGraceMs ?? 2000)));
    await Promise.race([Promise.allSettled(inflight), grace]);
    clearTimeout(timer);
    this.flushDone();
    if (this.checkpointTimer) clearTimeout(this.checkpointTimer);
    this.checkpointTimer = undefined;
  }

  /**
   * Checkpoints the WAL once the outbox has been idle for CHECKPOINT_IDLE_MS, so that SQLite's
   * automatic checkpoint (run inside whichever commit makes the WAL reach 1,000 pages: two
   * fsyncs in the middle of someone's command) is left for load without pauses, and the WAL
   * stays small (a FULL commit's fsync is cheaper on a WAL that is rewritten than on one that grows).
   */
  private wrote(): void {
    this.dirty = true;
    this.lastWriteAt = performance.now();
    if (this.checkpointTimer || this.stopped) return;
    this.checkpointTimer = setTimeout(() => this.checkpointIfIdle(), CHECKPOINT_IDLE_MS);
    this.checkpointTimer.unref?.();
  }

  private checkpointIfIdle(): void {
    this.checkpointTimer = undefined;
    if (!this.dirty || this.stopped) return;
    const quiet = performance.now() - this.lastWriteAt;
    if (quiet < CHECKPOINT_IDLE_MS) {
      this.checkpointTimer = setTimeout(() => this.checkpointIfIdle(), CHECKPOINT_IDLE_MS - quiet);
      this.checkpointTimer.unref?.();
      return;
    }
    this.dirty = false;
    try {
      this.db.exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch (err) {
      // The WAL only grows until the next one (or SQLite's own); nothing is lost.
      log.warn("could not checkpoint the database's write-ahead log", { error: String(err) });
    }
  }

  /** Pending (in memory) and dead (from the database) counts, and this run's totals. */
  stats(): OutboxStats {
    const dead = (this.sql.countDead.get() as { n: number }).n;
    return { pending: this.pending, dead, delivered: this.delivered, failedAttempts: this.failedAttempts };
  }

  /** The oldest dead messages first. */
  listDead(limit = 100): DeadMessage[] {
    return (this.sql.listDead.all(limit) as Row[]).map((row) => ({
      id: row.id,
      targetKey: row.target_key,
      source: row.source,
      createdAt: row.created_at,
      attempts: row.attempts,
      lastError: row.last_error,
      announcement: parsePayload(row.payload),
    }));
  }

  /**
   * Makes dead messages pending again (one id, or all) and returns how many. A replayed message
   * gets a fresh `deadAfterMs`, keeps the parts already sent, and queues in id order behind the
   * message its target is sending now. A message that names no target cannot be replayed.
   */
  replay(id: number | "all"): number {
    const now = this.now();
    const rows = (id === "all" ? this.sql.replayAll.all(now) : this.sql.replayOne.all(now, id)) as Row[];
    for (const row of rows) {
      log.info("replaying a dead message", { id: row.id, target: row.target_key });
      if (this.started && !this.stopped) {
        this.pending++;
        this.push(entryOf(row));
      }
    }
    return rows.length;
  }

  /** Resolves true once nothing is pending (every message delivered or dead), false after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending > 0 || this.done.length > 0) {
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

  // ---- queues ----

  private push(entry: Entry): void {
    let lane = this.lanes.get(entry.key);
    if (!lane) {
      lane = this.newLane(entry.key);
      this.lanes.set(entry.key, lane);
    }
    // Never in front of the head: it may be half sent.
    lane.queue.insertSorted(entry, (e) => e.id, lane.running || lane.timer ? 1 : 0);
    this.kick(lane);
  }

  private newLane(key: string): Lane {
    const rate = this.backend.sendRate;
    return {
      key,
      queue: new Queue<Entry>(),
      running: false,
      readyAt: 0,
      backoff: new Backoff({
        initialMs: Math.min(this.opts.initialRetryDelayMs ?? 500, this.opts.maxRetryDelayMs),
        maxMs: this.opts.maxRetryDelayMs,
        random: this.opts.random,
      }),
      bucket: rate ? new TokenBucket(rate, this.now()) : undefined,
    };
  }

  /** Runs a lane unless it is running or waiting; never reentrant with the caller. */
  private kick(lane: Lane): void {
    if (lane.running || lane.timer || !this.started || this.stopped) return;
    lane.running = true;
    queueMicrotask(() => void this.runLane(lane));
  }

  private async runLane(lane: Lane): Promise<void> {
    try {
      for (let steps = 1; !this.stopped && lane.queue.size > 0; steps++) {
        // A backend that confirms at once keeps this loop in microtasks; yield now and then so
        // the stream keeps being read and confirmed rows get deleted.
        if (steps % YIELD_EVERY === 0) await new Promise<void>((resolve) => setImmediate(resolve));
        const step = this.step(lane);
        lane.inflight = step.then(() => undefined, () => undefined);
        const wait = await step;
        lane.inflight = undefined;
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
    if (this.stopped) return;
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      this.kick(lane);
    }, ms);
  }

  /** Drops an idle lane once its rate bucket refilled, so many one-off targets do not pile up. */
  private forgetIdle(lane: Lane): void {
    if (lane.queue.size === 0 && !lane.timer && (!lane.bucket || lane.bucket.full(this.now()))) {
      this.lanes.delete(lane.key);
    }
  }

  /** Sends the next part of the lane's head; returns how long to wait before the next step (0: go on). */
  private async step(lane: Lane): Promise<number> {
    const entry = lane.queue.peek()!;
    const now = this.now();
    if (lane.readyAt > now) return lane.readyAt - now;
    if (!this.prepare(lane, entry)) return 0;
    const rateWait = Math.max(lane.bucket?.wait(now) ?? 0, this.overall?.wait(now) ?? 0);
    if (rateWait > 0) return rateWait;
    lane.bucket?.take();
    this.overall?.take();
    const a = entry.announcement!;
    const parts = entry.parts!;
    try {
      const target = await this.resolveTarget(entry.key, a);
      const index = entry.partsSent;
      // The same id on every retry of this part (even after a restart or a replay), so a
      // service with idempotent sends posts it once; row id + creation time stay unique
      // should the database ever be recreated and ids start over.
      const id = `${entry.id}.${entry.createdAt}.${index}`;
      const msg: Outgoing = index === 0 && a.extra ? { text: parts[index]!, extra: a.extra, id } : { text: parts[index]!, id };
      // Controls go under the last part, after everything they answer.
      if (a.actions?.length && this.opts.issueActions && index === parts.length - 1) msg.actions = this.opts.issueActions(a.actions);
      await this.withTimeout(this.backend.send(target, msg), "send");
    } catch (err) {
      return this.failed(lane, entry, err);
    }
    entry.partsSent++;
    if (entry.partsSent < parts.length) {
      this.sql.progress.run(entry.partsSent, entry.id);
      return 0;
    }
    lane.queue.shift();
    lane.backoff.reset();
    log.debug("sent and confirmed", { id: entry.id, target: entry.key });
    this.confirmed(entry);
    return 0;
  }

  /** Parses and splits the head once; an unreadable row goes dead. */
  private prepare(lane: Lane, entry: Entry): boolean {
    if (entry.parts) return true;
    const a = entry.announcement ?? openBody(this.sealer, parsePayload(entry.payload), entry.key, entry.id);
    if (!a) {
      this.dead(lane, entry, "the stored announcement is unreadable");
      return false;
    }
    entry.announcement = a;
    entry.parts = splitMessage(a.message, this.backend.maxMessageLength);
    if (entry.parts.length === 0) {
      this.dead(lane, entry, "the message is empty");
      return false;
    }
    return true;
  }

  private async resolveTarget(key: string, a: Announcement): Promise<Target> {
    const now = this.now();
    let cached = this.resolved.get(key);
    if (!cached || cached.until < now) {
      const t = targetOf(a)!;
      const target = await this.withTimeout(this.backend.resolve(t.kind, t.value), "resolve");
      cached = { target, until: now + RESOLVE_CACHE_MS };
      if (this.resolved.size > 10_000) this.resolved.clear();
      this.resolved.set(key, cached);
    }
    const target = cached.target;
    if (target.kind !== "room") return target;
    const thread = threadOf(a);
    return thread ? { ...target, thread } : target;
  }

  private withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
    return withTimeout(work, this.sendTimeoutMs, () => new SendError(`${what} timed out after ${this.sendTimeoutMs} ms`, true));
  }

  /** Classifies a failure: dead now, wait out a Retry-After, or back off; returns the wait. */
  private failed(lane: Lane, entry: Entry, err: unknown): number {
    const reason = describeError(err);
    const now = this.now();
    if (!isRetryable(err)) {
      this.resolved.delete(entry.key);
      this.dead(lane, entry, reason);
      return 0;
    }
    const retryAfter = err instanceof SendError ? err.retryAfterMs : undefined;
    if (retryAfter !== undefined) {
      // A rate limit is queueing, not failing: wait exactly as long as the service asked.
      const wait = Math.max(0, retryAfter);
      lane.readyAt = now + wait;
      this.sql.failed.run(entry.attempts, lane.readyAt, `rate limited: ${reason}`, entry.id);
      log.warn("rate limited by the chat service", { target: entry.key, retryAfterMs: wait });
      return wait;
    }
    entry.attempts++;
    this.failedAttempts++;
    if (now >= entry.acceptedAt + this.opts.deadAfterMs) {
      this.dead(lane, entry, `still failing after ${Math.round(this.opts.deadAfterMs / 1000)} s: ${reason}`);
      return 0;
    }
    const delay = lane.backoff.next();
    lane.readyAt = now + delay;
    this.sql.failed.run(entry.attempts, lane.readyAt, reason, entry.id);
    log.warn("send failed, will retry", { id: entry.id, target: entry.key, attempt: entry.attempts, retryInMs: delay, error: reason });
    return delay;
  }

  private dead(lane: Lane, entry: Entry, reason: string): void {
    this.sql.markDead.run(reason, entry.attempts, entry.id);
    lane.queue.shift();
    this.pending--;
    this.reportDead(entry.id, entry.key, reason);
    this.wake();
  }

  private reportDead(id: number, key: string, reason: string): void {
    log.error("MESSAGE NOT DELIVERED: kept as dead, replay it once the cause is fixed", { id, target: key, reason });
    this.opts.onDead?.(id, reason);
  }

  private confirmed(entry: Entry): void {
    this.done.push(entry);
    // Bounds what a crash can send twice: at most this many confirmed rows are not yet deleted.
    if (this.done.length >= MAX_UNFLUSHED) return this.flushDone();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushDone());
    }
  }

  /** Deletes every confirmed row in one transaction, then counts and reports them. */
  private flushDone(): void {
    this.flushScheduled = false;
    const batch = this.done;
    if (batch.length === 0) return;
    this.done = [];
    try {
      this.sql.deleteMany(batch);
      this.wrote();
    } catch (err) {
      // The rows stay: they will be sent again after a restart (at least once, never lost).
      log.error("could not delete delivered messages from the outbox", { count: batch.length, error: String(err) });
    }
    this.pending -= batch.length;
    this.delivered += batch.length;
    log.debug("deleted delivered messages", { ids: batch.map((e) => e.id) });
    if (this.opts.onDelivered) for (const e of batch) this.opts.onDelivered(e.id, e.announcement!);
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

function scaled(rate: Rate | undefined, factor: number): Rate | undefined {
  return rate && { perSecond: rate.perSecond * factor, burst: rate.burst * factor };
}

function parsePayload(payload: string): Announcement | undefined {
  try {
    const a = JSON.parse(payload) as Announcement;
    return typeof a === "object" && a !== null && typeof a.message === "string" ? a : undefined;
  } catch {
    return undefined;
  }
}

function entryOf(row: Row): Entry {
  return {
    id: row.id,
    key: row.target_key,
    payload: row.payload,
    acceptedAt: row.replayed_at ?? row.created_at,
    createdAt: row.created_at,
    attempts: row.attempts,
    partsSent: row.parts_sent,
  };
}

/** How long the outbox must be idle before the WAL is checkpointed. */
const CHECKPOINT_IDLE_MS = 100;
/** Sends a lane makes before letting the event loop run. */
const YIELD_EVERY = 32;
/** Confirmed sends whose rows may wait for one batched DELETE. */
const MAX_UNFLUSHED = 64;

const COLUMNS = "id, target_key, payload, source, created_at, attempts, parts_sent, replayed_at, last_error";

function prepare(db: Database) {
  const del: Statement = db.prepare("DELETE FROM outbox WHERE id = ?");
  return {
    insert: db.prepare("INSERT INTO outbox (target_key, payload, source, created_at, dead, last_error) VALUES (?, ?, ?, ?, ?, ?)"),
    pending: db.prepare(`SELECT ${COLUMNS} FROM outbox WHERE dead = 0 ORDER BY id`),
    progress: db.prepare("UPDATE outbox SET parts_sent = ? WHERE id = ?"),
    failed: db.prepare("UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?"),
    markDead: db.prepare("UPDATE outbox SET dead = 1, last_error = ?, attempts = ? WHERE id = ?"),
    countDead: db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE dead = 1"),
    listDead: db.prepare(`SELECT ${COLUMNS} FROM outbox WHERE dead = 1 ORDER BY id LIMIT ?`),
    replayOne: db.prepare(
      `UPDATE outbox SET dead = 0, attempts = 0, last_error = NULL, next_attempt_at = 0, replayed_at = ? WHERE id = ? AND dead = 1 AND target_key != '${NO_TARGET}' RETURNING ${COLUMNS}`,
    ),
    replayAll: db.prepare(
      `UPDATE outbox SET dead = 0, attempts = 0, last_error = NULL, next_attempt_at = 0, replayed_at = ? WHERE dead = 1 AND target_key != '${NO_TARGET}' RETURNING ${COLUMNS}`,
    ),
    deleteMany: db.transaction((entries: Entry[]) => {
      for (const e of entries) del.run(e.id);
    }),
  };
}

/** A FIFO with O(1) shift and sorted insertion (replayed messages go back in id order). */
class Queue<T> {
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    const item = this.items[this.head];
    this.items[this.head++] = undefined as T;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Inserts by `keyOf` order, never before position `from` (a head that is being sent). */
  insertSorted(item: T, keyOf: (t: T) => number, from: number): void {
    const key = keyOf(item);
    const last = this.items[this.items.length - 1];
    if (this.size === 0 || (last !== undefined && keyOf(last) < key)) {
      this.items.push(item);
      return;
    }
    let i = this.items.length;
    const floor = this.head + Math.min(from, this.size);
    while (i > floor && keyOf(this.items[i - 1]!) > key) i--;
    this.items.splice(i, 0, item);
  }
}

/** A token bucket: `burst` sends at once, then `perSecond` on average; an empty bucket queues. */
class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly burst: number;

  constructor(
    private readonly rate: Rate,
    now: number,
  ) {
    this.burst = Math.max(1, rate.burst);
    this.tokens = this.burst;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate.perSecond) / 1000);
      this.last = now;
    }
  }

  /** Milliseconds until one token is available (0: now). */
  wait(now: number): number {
    this.refill(now);
    if (this.tokens >= 1) return 0;
    if (this.rate.perSecond <= 0) return 1000;
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rate.perSecond));
  }

  take(): void {
    this.tokens -= 1;
  }

  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }
}
