/**
 * How messages get into the outbox's table, durably: every message — what a webhook or the
 * stream hands over, and the bot's own replies — is on disk (survives a power loss) before it is
 * handed to delivery (`admit`) or its waiter hears the id. The stream and `accept` join one batch
 * per event-loop turn, one commit for all of them.
 *
 * Durable, two ways: with a `WalSync` (a database on disk) the commit is NORMAL and the WAL is
 * then fsynced on the thread pool, one fsync for every commit made before it started (see
 * walsync.ts for why that is the same guarantee); without one, when it is not usable, or for a
 * small batch with nothing waiting for an fsync (`INLINE_BATCH`), the commit runs with
 * synchronous=FULL (fsync inside COMMIT, on the main thread). Either way the
 * admission order is the commit order: a write confirmed at once waits behind earlier ones
 * still waiting for their fsync, so per-target id order holds.
 */
import { logger } from "../lib/log.ts";
import type { Sealer } from "../store/seal.ts";
import { type Announcement, targetKey, targetOf } from "./announcement.ts";
import { NO_TARGET, type OutboxSource, type OutboxTable } from "./outbox-table.ts";
import { sealBody } from "./sealed.ts";
import type { WalSync } from "./walsync.ts";

const log = logger("delivery.outbox");

/** A message stored but not yet handed to delivery (see `IntakeOptions.admit`). */
export interface Stored {
  id: number;
  key: string;
  payload: string;
  acceptedAt: number;
  announcement: Announcement;
  /** Why it is dead at once (it names no target), or null. */
  deadReason: string | null;
}

/** What the intake writes to and whom it tells. */
export interface IntakeOptions {
  table: OutboxTable;
  /** Seals the text of `secret` announcements before they are stored. */
  sealer: Sealer;
  now: () => number;
  /** Told after every write (the WAL checkpointer). */
  wrote: () => void;
  /** Told of each stored message once its commit returned. */
  admit: (stored: Stored) => void;
  /** True once the outbox stops: a batch that fails then is reported, not retried. */
  stopped: () => boolean;
  /** Syncs the WAL after NORMAL commits (absent: durable commits are FULL). */
  walSync?: WalSync;
  /** Batches this small commit inline (FULL) when nothing waits for an fsync (default `INLINE_BATCH`). */
  inlineBatch?: number;
}

/**
 * A batch this small, with no earlier commit waiting for its fsync, commits FULL on the main
 * thread instead of taking the thread pool's fsync: a lone result (a chat command's) is then sent
 * without a round trip through the pool, whose wake-ups slowed the next command on a 2-core
 * machine (line → request p50 +0.035 ms, 4 interleaved runs of scripts/bench/outside.ts). A burst
 * or a slow disk makes batches bigger or finds an fsync pending, and takes the pool.
 */
export const INLINE_BATCH = 4;

/** An announcement waiting for this turn's batch; `resolve`/`reject` when someone waits (`accept`). */
interface Waiting {
  a: Announcement;
  source: OutboxSource;
  resolve?: (id: number) => void;
  reject?: (err: Error) => void;
}

/** Stores announcements (see the file comment for the durability of each path). */
export class Intake {
  private batch: Waiting[] = [];
  /** Stream announcements whose commit failed, kept in order for the next try. */
  private retry: Waiting[] = [];
  private batchRetry: ReturnType<typeof setTimeout> | undefined;
  /** Admissions waiting for an fsync, in commit order; `tail` settles after the last of them. */
  private waiting = 0;
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly opts: IntakeOptions) {}

  /**
   * One synchronous INSERT committed FULL (on disk when it returns: a bot reply is no less a
   * message than a webhook's); admitted (behind earlier commits still waiting for their fsync);
   * returns the id.
   */
  insert(a: Announcement, source: OutboxSource): number {
    const stored = this.opts.table.durably(() => this.store(a, source));
    // Nothing waits for an fsync (the usual case): admitted at once, without `inOrder`'s closures.
    if (this.waiting === 0) this.opts.admit(stored);
    else this.inOrder(undefined, () => this.opts.admit(stored), () => {});
    return stored.id;
  }

  /**
   * The INSERT in one transaction with `record` (the caller's own writes), committed FULL;
   * admitted; returns the id. Synchronous FULL rather than NORMAL plus a later fsync:
   * a failed fsync could not undo `record` (the webhook's replay record would then refuse the
   * sender's retry), a failed FULL commit rolls it back.
   */
  insertWith(a: Announcement, source: OutboxSource, record: () => void): number {
    const write = () =>
      this.opts.table.transaction(() => {
        record();
        return this.store(a, source);
      });
    const stored = this.opts.table.durably(write);
    this.inOrder(undefined, () => this.opts.admit(stored), () => {});
    return stored.id;
  }

  /**
   * Joins this turn's batch, stored in one durable transaction at the end of the turn. `resolve`
   * hears the id once durable, `reject` the failure; without them (the stream) a failed batch
   * is kept and retried every second until it is stored or the outbox stops.
   */
  add(a: Announcement, source: OutboxSource, resolve?: (id: number) => void, reject?: (err: Error) => void): void {
    if (this.batch.push({ a, source, resolve, reject }) === 1) setImmediate(() => this.flush());
  }

  /** Stores the batch now (`stop()` calls it so nothing waits for a turn that never comes). */
  flush(): void {
    if (this.batchRetry) clearTimeout(this.batchRetry);
    this.batchRetry = undefined;
    const items = this.retry.length > 0 ? this.retry.concat(this.batch) : this.batch;
    this.retry = [];
    this.batch = [];
    if (items.length === 0) return;
    let stored: Stored[];
    let synced: Promise<void> | undefined;
    try {
      const write = () => this.opts.table.transaction(() => items.map(({ a, source }) => this.store(a, source, false)));
      [stored, synced] = this.commit(write, items.length <= (this.opts.inlineBatch ?? INLINE_BATCH) && this.waiting === 0);
    } catch (err) {
      return this.failed(items, err);
    }
    // Delivery starts only once the batch is durable, so nothing is sent that a power loss could undo.
    this.inOrder(
      synced,
      () =>
        stored.forEach((s, i) => {
          this.opts.admit(s);
          items[i]!.resolve?.(s.id);
        }),
      (err) => {
        this.undo(stored);
        this.failed(items, err);
      },
    );
  }

  /** Whether a commit still waits for its fsync (or for an earlier one to be admitted). */
  get busy(): boolean {
    return this.waiting > 0;
  }

  /** Settles once every commit made so far was admitted or failed (`stop()` waits for it). */
  settled(): Promise<void> {
    return this.tail;
  }

  /**
   * Runs `write` durably: NORMAL plus the WAL's fsync to come (`synced`) when the WalSync is
   * usable and the write is not `inline`, else with synchronous=FULL (`synced` undefined:
   * durable already).
   */
  private commit<T>(write: () => T, inline = false): [T, Promise<void> | undefined] {
    const wal = this.opts.walSync;
    if (!inline && wal?.usable()) {
      const result = write();
      this.opts.wrote();
      return [result, wal.committed()];
    }
    const result = this.opts.table.durably(write);
    this.opts.wrote();
    return [result, undefined];
  }

  /**
   * Runs `done` once `synced` resolved and every earlier commit was admitted (at once when
   * nothing waits), `fail` when `synced` rejected.
   */
  private inOrder(synced: Promise<void> | undefined, done: () => void, fail: (err: Error) => void): void {
    if (!synced && this.waiting === 0) return done();
    this.waiting++;
    // Handled now: a failed fsync may reject it before `tail` gets to it (an unhandled rejection
    // would end the process); the chain below still sees the failure.
    synced?.catch(() => {});
    // Earlier commits first (`tail` never rejects), then this one's fsync: failures too run in order.
    const after = synced ? this.tail.then(() => synced) : this.tail;
    this.tail = after
      .then(done, (err: unknown) => fail(err instanceof Error ? err : new Error(String(err))))
      .catch((err: unknown) => log.error("could not hand stored messages to delivery", { error: String(err) }))
      .finally(() => this.waiting--);
  }

  /** Deletes rows whose commit could not be made durable: they must not be sent (nor resent after a restart). */
  private undo(stored: Stored[]): void {
    try {
      this.opts.table.deleteMany(stored.map((s) => s.id));
    } catch (err) {
      log.error("could not remove messages whose write was not confirmed on disk; they may be sent after a restart", { count: stored.length, error: String(err) });
    }
  }

  /** A batch that could not be stored: waiters hear it, the stream's announcements are kept and retried. */
  private failed(items: Waiting[], err: unknown): void {
    for (const w of items) w.reject?.(err instanceof Error ? err : new Error(String(err)));
    // Runs from setImmediate or a promise: a throw would crash st2bot and lose every message held
    // here. Keep them and try again (a full disk or a locked database may well clear).
    for (const w of items) if (!w.reject) this.retry.push(w);
    const count = this.retry.length;
    if (count === 0) return;
    if (this.opts.stopped()) {
      log.error("MESSAGES NOT STORED: the outbox could not write them while stopping", { count, error: String(err) });
      this.retry = [];
      return;
    }
    log.error("could not store announcements in the outbox; retrying in 1 s", { count, error: String(err) });
    this.batchRetry ??= setTimeout(() => this.flush(), 1000);
  }

  /** The INSERT alone (`tell`: the checkpointer, else the caller does once); an announcement without a target is stored dead at once. */
  private store(a: Announcement, source: OutboxSource, tell = true): Stored {
    const target = targetOf(a);
    const key = target ? targetKey(target) : NO_TARGET;
    const now = this.opts.now();
    const payload = a.secret ? sealBody(this.opts.sealer, a, key) : JSON.stringify(a);
    const deadReason = target ? null : "the announcement names neither a channel nor a user";
    const id = this.opts.table.insert(key, payload, source, now, deadReason);
    if (tell) this.opts.wrote();
    return { id, key, payload, acceptedAt: now, announcement: a, deadReason };
  }
}
