/**
 * How messages get into the outbox's table, durably: what a webhook or the stream hands over is
 * committed with synchronous=FULL (fsync before the commit returns: survives a power loss); the
 * bot's own replies with NORMAL (survive a crash of st2bot; a power loss can take the last
 * ones). The stream and the webhook join one batch per event-loop turn, one durable commit for
 * all of them. Nothing is handed to delivery (`admit`) before its commit returned.
 */
import { logger } from "../lib/log.ts";
import type { Sealer } from "../store/seal.ts";
import { type Announcement, targetKey, targetOf } from "./announcement.ts";
import { NO_TARGET, type OutboxSource, type OutboxTable } from "./outbox-table.ts";
import { sealBody } from "./sealed.ts";

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
}

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
  private batchRetry: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly opts: IntakeOptions) {}

  /** One synchronous INSERT, FULL unless the bot itself is the source; admitted; returns the id. */
  insert(a: Announcement, source: OutboxSource): number {
    // What someone else handed over (a webhook's 202) survives a power loss; the bot's own
    // replies need only survive a crash of st2bot (in the WAL, synced at the next checkpoint).
    const stored = source === "bot" ? this.store(a, source) : this.opts.table.durably(() => this.store(a, source));
    this.opts.admit(stored);
    return stored.id;
  }

  /** The INSERT in one transaction with `record` (the caller's own writes); admitted; returns the id. */
  insertWith(a: Announcement, source: OutboxSource, record: () => void): number {
    const stored = this.opts.table.transaction(() => {
      record();
      return this.store(a, source);
    });
    this.opts.admit(stored);
    return stored.id;
  }

  /**
   * Joins this turn's batch, stored in one durable transaction at the end of the turn. `resolve`
   * hears the id once committed, `reject` the failure; without them (the stream) a failed batch
   * is kept and retried every second until it is stored or the outbox stops.
   */
  add(a: Announcement, source: OutboxSource, resolve?: (id: number) => void, reject?: (err: Error) => void): void {
    if (this.batch.push({ a, source, resolve, reject }) === 1) setImmediate(() => this.flush());
  }

  /** Stores the batch now (`stop()` calls it so nothing waits for a turn that never comes). */
  flush(): void {
    if (this.batchRetry) clearTimeout(this.batchRetry);
    this.batchRetry = undefined;
    const items = this.batch;
    this.batch = [];
    if (items.length === 0) return;
    let stored: Stored[];
    try {
      stored = this.opts.table.durably(() => this.opts.table.transaction(() => items.map(({ a, source }) => this.store(a, source, false))));
      this.opts.wrote();
    } catch (err) {
      // Whoever waits hears the failure now; the stream's announcements (no one to tell) are kept.
      for (const w of items) w.reject?.(err instanceof Error ? err : new Error(String(err)));
      // Runs from setImmediate: a throw would crash st2bot and lose every message held here.
      // Keep them and try again (a full disk or a locked database may well clear).
      this.batch = items.filter((w) => !w.reject).concat(this.batch);
      if (this.batch.length === 0) return;
      if (this.opts.stopped()) {
        log.error("MESSAGES NOT STORED: the outbox could not write them while stopping", { count: this.batch.length, error: String(err) });
        this.batch = [];
        return;
      }
      log.error("could not store announcements in the outbox; retrying in 1 s", { count: this.batch.length, error: String(err) });
      this.batchRetry = setTimeout(() => this.flush(), 1000);
      return;
    }
    // Delivery starts only after the transaction committed, so nothing is sent that a rollback undid.
    stored.forEach((s, i) => {
      this.opts.admit(s);
      items[i]!.resolve?.(s.id);
    });
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
