/**
 * Confirmed messages on their way out of the table: their rows are deleted in one transaction
 * per event-loop turn (at most MAX_UNFLUSHED wait; a batch the backend confirmed as one is
 * deleted right away), which bounds what a crash can send twice to one turn of sends (or one
 * batch), at a fraction of the cost of one DELETE commit each.
 */
import { logger, logs } from "../lib/log.ts";
import type { Entry, OutboxTable } from "./outbox-table.ts";

const log = logger("delivery.outbox");

/** Confirmed sends whose rows may wait for one batched DELETE. */
const MAX_UNFLUSHED = 64;

/** The rows to delete and whom to tell once they are. */
export interface ConfirmationsOptions {
  table: OutboxTable;
  /** Told after every write (the WAL checkpointer). */
  wrote: () => void;
  /** Told of each batch once deleted (or not: the rows then stay and are sent again after a restart). */
  flushed: (entries: Entry[]) => void;
}

/** Batches the deletes of confirmed entries (see the file comment). */
export class Confirmations {
  private done: Entry[] = [];
  private flushScheduled = false;

  constructor(private readonly opts: ConfirmationsOptions) {}

  /** How many confirmed entries wait for their delete. */
  get waiting(): number {
    return this.done.length;
  }

  /** Records that every part of `entry` was confirmed; its row goes at the end of this turn. */
  add(entry: Entry): void {
    this.done.push(entry);
    this.schedule();
  }

  /** Records many confirmed entries (a batch the backend confirmed as one). */
  addAll(entries: Entry[]): void {
    for (const e of entries) this.done.push(e);
    this.schedule();
  }

  private schedule(): void {
    // Bounds what a crash can send twice: at most this many confirmed rows are not yet deleted.
    if (this.done.length >= MAX_UNFLUSHED) return this.flush();
    if (!this.flushScheduled && this.done.length > 0) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Deletes every confirmed row now, in one transaction, then tells `flushed`. */
  flush(): void {
    this.flushScheduled = false;
    const batch = this.done;
    if (batch.length === 0) return;
    this.done = [];
    try {
      this.opts.table.deleteMany(batch.map((e) => e.id));
      this.opts.wrote();
    } catch (err) {
      // The rows stay: they will be sent again after a restart (at least once, never lost).
      log.error("could not delete delivered messages from the outbox", { count: batch.length, error: String(err) });
    }
    if (logs("debug")) log.debug("deleted delivered messages", { ids: batch.map((e) => e.id) });
    this.opts.flushed(batch);
  }
}
