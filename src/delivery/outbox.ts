/**
 * The durable outbox. Every announcement (StackStorm stream, webhook, the bot itself) is written
 * to SQLite before anything else and deleted only after the chat backend confirmed the send.
 *
 * Durability: every message (the stream's, a webhook's, the bot's own replies) is on disk (WAL
 * fsynced: survives a power loss) before any of it is sent or the webhook hears its id; for a
 * stream or webhook batch the fsync runs on the thread pool after a NORMAL commit, one for every
 * commit made before it (walsync.ts), or inside a FULL commit when that cannot be used or the
 * batch is small; a bot reply is one FULL commit. See intake.ts.
 *
 * Delivery guarantee: at least once. A message is lost only if the database file is. A message
 * can be sent twice when st2bot dies (kill -9, power loss) after the backend confirmed a part
 * and before that confirmation reached the database: the deletes of confirmed messages are
 * batched into one transaction per event-loop turn (confirmations.ts), and part progress is
 * written right after each part, so the window is one turn of sends (or one part of a split
 * message). A send that timed out is retried even though the service may have posted it late.
 *
 * Ordering: strictly by id per target key (`user:alice`, `channel:#ops`). Targets are
 * independent: each has its own queue, backoff and rate bucket (lanes.ts), and a hung or failing
 * target never delays another (every send has a timeout). A message that fails past
 * `deadAfterMs` after it was accepted (or replayed), or that can never be sent (unknown target,
 * rejected content), is kept as dead (retry.ts): visible in `listDead`, logged, re-playable
 * with `replay`.
 *
 * The parts: outbox-table.ts (SQL and rows), intake.ts (durable storing and batching),
 * dispatch.ts (delivering), lanes.ts and queue.ts (per-target scheduling), lib/rate.ts (token
 * buckets), send.ts (one attempt), retry.ts (what a failure means), confirmations.ts (batched
 * deletes), checkpoint.ts (the WAL), sealed.ts (secret texts at rest), actions.ts (action tokens
 * at send time).
 */
import type { Database } from "bun:sqlite";
import type { ActionRequest, ChatAction, ChatBackend } from "../chat/types.ts";
import { Backoff } from "../lib/backoff.ts";
import { logger } from "../lib/log.ts";
import { type Rate, scaleRate } from "../lib/rate.ts";
import { Sealer } from "../store/seal.ts";
import type { Announcement } from "./announcement.ts";
import { IdleCheckpointer } from "./checkpoint.ts";
import { Dispatcher } from "./dispatch.ts";
import { Intake } from "./intake.ts";
import { type DeadMessage, type OutboxSource, OutboxTable } from "./outbox-table.ts";
import { type SyncFile, WalSync } from "./walsync.ts";

export type { Rate } from "../lib/rate.ts";
export type { DeadMessage, OutboxSource } from "./outbox-table.ts";

const log = logger("delivery.outbox");

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
  /**
   * The whole backend's send rate. Default: `backend.overallSendRate` when the backend publishes
   * one, else ten times `backend.sendRate` (unlimited without either).
   */
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
  /** How the WAL file is flushed to disk (default fsync(2) on the thread pool); tests slow or fail it. */
  syncWal?: SyncFile;
  /**
   * A stream/webhook batch of at most this many messages, with no fsync pending, commits FULL on
   * the main thread instead of taking the thread pool's fsync (default 4; 0: never). See intake.ts.
   */
  inlineBatch?: number;
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

/**
 * The rate of the whole backend: what the options say, else what the backend publishes as its
 * overall limit, else ten times its per-target rate (a guess for backends that publish no
 * overall limit); undefined (unlimited) without any.
 */
export function overallRateOf(backend: ChatBackend, configured?: Rate): Rate | undefined {
  return configured ?? backend.overallSendRate ?? scaleRate(backend.sendRate, 10);
}

/** The durable outbox (see the file comment for its guarantees). */
export class Outbox {
  private readonly now: () => number;
  private readonly opts: OutboxOptions;
  private readonly table: OutboxTable;
  private readonly intake: Intake;
  private readonly dispatch: Dispatcher;
  private readonly checkpointer: IdleCheckpointer;
  private readonly walSync: WalSync | undefined;
  /** `start()` waits for commits whose fsync is due; `stop()` before then cancels it. */
  private startWanted = false;

  constructor(opts: OutboxOptions) {
    this.opts = opts;
    this.now = opts.clock ?? Date.now;
    this.table = new OutboxTable(opts.db);
    const sealer = opts.sealer ?? Sealer.ephemeral();
    const stopped = () => this.dispatch.halted;
    this.checkpointer = new IdleCheckpointer(opts.db, stopped);
    const wrote = () => this.checkpointer.wrote();
    this.dispatch = new Dispatcher({
      table: this.table,
      backend: opts.backend,
      sealer,
      now: this.now,
      wrote,
      deadAfterMs: opts.deadAfterMs,
      backoff: () =>
        new Backoff({ initialMs: Math.min(opts.initialRetryDelayMs ?? 500, opts.maxRetryDelayMs), maxMs: opts.maxRetryDelayMs, random: opts.random }),
      sendTimeoutMs: opts.sendTimeoutMs ?? 30_000,
      overallRate: overallRateOf(opts.backend, opts.overallRate),
      onDelivered: opts.onDelivered,
      onDead: opts.onDead,
      issueActions: opts.issueActions,
    });
    // A database in memory has no WAL to sync (cluster mode's outbox lives in Redis).
    const file = opts.db.filename;
    this.walSync = file && file !== ":memory:" ? new WalSync(`${file}-wal`, opts.syncWal) : undefined;
    this.intake = new Intake({ table: this.table, sealer, now: this.now, wrote, admit: (s) => this.dispatch.admit(s), stopped, walSync: this.walSync, inlineBatch: opts.inlineBatch });
  }

  /**
   * Durably stores an announcement (one synchronous INSERT) and returns its id; delivery starts
   * right after, once `start()` was called. An announcement with neither channel nor user is
   * stored as dead at once (kept, logged), never dropped.
   */
  enqueue(a: Announcement, source: OutboxSource): number {
    return this.intake.insert(a, source);
  }

  /**
   * `enqueue`, with `record` (the caller's own writes to the same database, e.g. the webhook's
   * replay record) run in the INSERT's transaction: both are stored or neither. A throw from
   * `record` rolls back and reaches the caller; nothing is then queued.
   */
  enqueueWith(a: Announcement, source: OutboxSource, record: () => void): number {
    return this.intake.insertWith(a, source, record);
  }

  /**
   * For the stream: stores the announcement at the end of this turn of the event loop, in one
   * transaction with every other that arrived in it (one WAL commit instead of one each, which
   * is most of the cost under a burst). Still stored before any delivery starts.
   */
  enqueueSoon(a: Announcement, source: OutboxSource): void {
    this.intake.add(a, source);
  }

  /**
   * Like `enqueue`, for callers that can wait (the webhook answers 202 once this resolves):
   * joins this turn's batch, so concurrent posts share one durable commit (one fsync) instead
   * of one each. Resolves with the id once on disk (WAL fsynced); rejects if it could not be stored (the
   * sender then hears an error and retries: nothing is kept that it was not told about).
   */
  accept(a: Announcement, source: OutboxSource): Promise<number> {
    return new Promise((resolve, reject) => this.intake.add(a, source, resolve, reject));
  }

  /**
   * What the webhook needs (web/webhook.ts `Enqueuer`): the id only once the message is on disk.
   * `enqueue` is `accept` (concurrent posts share one commit and one fsync, off the main
   * thread); `enqueueWith` commits FULL at once (see `Intake.insertWith`).
   */
  readonly webhook = {
    enqueue: (a: Announcement, source: OutboxSource): Promise<number> => this.accept(a, source),
    enqueueWith: (a: Announcement, source: OutboxSource, record: () => void): number => this.enqueueWith(a, source, record),
    pending: (): number => this.dispatch.counts().pending,
  };

  /** Starts delivering, beginning with every pending row a previous run left (crash recovery). */
  start(): void {
    if (this.dispatch.active) return;
    // Rows whose fsync is still due must not be read (and sent) before it returned.
    if (this.intake.busy) {
      this.startWanted = true;
      void this.intake.settled().then(() => this.startWanted && this.start());
      return;
    }
    this.startWanted = false;
    const entries = this.table.pending();
    this.dispatch.start(entries);
    if (entries.length > 0) log.info("resuming delivery of queued messages", { count: entries.length });
  }

  /** Stops delivering; waits up to `stopGraceMs` for sends in flight, then records what they confirmed. */
  async stop(): Promise<void> {
    const running = this.dispatch.active;
    this.startWanted = false;
    // Stopped first (the dispatcher's synchronous part), so a batch that fails to store now is
    // reported rather than retried later.
    const stopping = this.dispatch.stop(this.opts.stopGraceMs ?? 2000);
    this.intake.flush();
    await stopping;
    // Commits still waiting for their fsync settle first (a failure undoes its rows).
    while (this.intake.busy) await this.intake.settled();
    this.walSync?.close();
    if (running) this.checkpointer.cancel();
  }

  /** Pending (in memory) and dead (from the database) counts, and this run's totals. */
  stats(): OutboxStats {
    const { pending, delivered, failedAttempts } = this.dispatch.counts();
    return { pending, dead: this.table.countDead(), delivered, failedAttempts };
  }

  /** The oldest dead messages first. */
  listDead(limit = 100): DeadMessage[] {
    return this.table.listDead(limit);
  }

  /**
   * Makes dead messages pending again (one id, or all) and returns how many. A replayed message
   * gets a fresh `deadAfterMs`, keeps the parts already sent, and queues in id order behind the
   * message its target is sending now. A message that names no target cannot be replayed.
   */
  replay(id: number | "all"): number {
    const entries = this.table.replay(id, this.now());
    for (const entry of entries) log.info("replaying a dead message", { id: entry.id, target: entry.key });
    this.dispatch.requeue(entries);
    return entries.length;
  }

  /** Resolves true once nothing is pending (every message delivered or dead), false after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    // Messages whose fsync is still due are pending too, though not yet handed to delivery.
    while (this.intake.busy) {
      const left = deadline - performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), Math.max(0, left))));
      const timedOut = await Promise.race([this.intake.settled().then(() => false), late]);
      clearTimeout(timer);
      if (timedOut) return false;
    }
    return this.dispatch.drain(Math.max(0, deadline - performance.now()));
  }
}
