/**
 * Checkpoints the outbox database's WAL once it has been idle for a moment, so that SQLite's
 * automatic checkpoint (run inside whichever commit makes the WAL reach 1,000 pages: two
 * fsyncs in the middle of someone's command) is left for load without pauses, and the WAL
 * stays small (a FULL commit's fsync is cheaper on a WAL that is rewritten than on one that grows).
 */
import type { Database } from "bun:sqlite";
import { logger } from "../lib/log.ts";

const log = logger("delivery.outbox");

/** How long the outbox must be idle before the WAL is checkpointed. */
const CHECKPOINT_IDLE_MS = 100;

/** Runs `PRAGMA wal_checkpoint(PASSIVE)` on `db` after writes, once they paused (see the file comment). */
export class IdleCheckpointer {
  /** Written since the last checkpoint; when the last write was (see `wrote`). */
  private dirty = false;
  private lastWriteAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** `stopped`: while it says true, nothing is scheduled and a due checkpoint is skipped. */
  constructor(
    private readonly db: Database,
    private readonly stopped: () => boolean,
  ) {}

  /** Tells it the database was written to now. */
  wrote(): void {
    this.dirty = true;
    this.lastWriteAt = performance.now();
    if (this.timer || this.stopped()) return;
    this.timer = setTimeout(() => this.checkpointIfIdle(), CHECKPOINT_IDLE_MS);
    this.timer.unref?.();
  }

  /** Drops a scheduled checkpoint (on stop). */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private checkpointIfIdle(): void {
    this.timer = undefined;
    if (!this.dirty || this.stopped()) return;
    const quiet = performance.now() - this.lastWriteAt;
    if (quiet < CHECKPOINT_IDLE_MS) {
      this.timer = setTimeout(() => this.checkpointIfIdle(), CHECKPOINT_IDLE_MS - quiet);
      this.timer.unref?.();
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
}
