/**
 * The webhook's replay ledger: signed posts already accepted, in the database (migration 3), so
 * a captured post cannot be replayed after a restart. Only a SHA-256 of each signature is kept,
 * until its timestamp leaves the accepted window; expired rows are deleted as new ones arrive.
 */
import { createHash } from "node:crypto";
import type { Database } from "./db.ts";

/** Records between two sweeps of expired rows. */
const SWEEP_EVERY = 256;

const hash = (signature: string) => createHash("sha256").update(signature).digest("hex");

/** Signatures accepted by the webhook (see the file comment); `record` belongs in the outbox's transaction. */
export class ReplayStore {
  private readonly sql;
  private records = 0;

  /** `clock` (epoch ms, injected for tests) dates the sweep of expired rows done at start. */
  constructor(db: Database, clock: () => number = Date.now) {
    this.sql = {
      seen: db.prepare("SELECT 1 AS hit FROM webhook_replay WHERE signature_hash = ? AND expires_at >= ?"),
      // A row whose window passed is taken over rather than counted as a replay.
      record: db.prepare(
        `INSERT INTO webhook_replay (signature_hash, expires_at) VALUES (?, ?)
         ON CONFLICT (signature_hash) DO UPDATE SET expires_at = excluded.expires_at WHERE webhook_replay.expires_at < ?`,
      ),
      sweep: db.prepare("DELETE FROM webhook_replay WHERE expires_at < ?"),
      count: db.prepare("SELECT COUNT(*) AS n FROM webhook_replay"),
    };
    this.sql.sweep.run(clock());
  }

  /** True when `signature` was accepted before and its window (ending at its expiry) has not passed. */
  seen(signature: string, now: number): boolean {
    return this.sql.seen.get(hash(signature), now) !== null;
  }

  /** Records `signature` as used until `expiresAt` (epoch ms); false when it already was. */
  record(signature: string, expiresAt: number, now: number): boolean {
    if (++this.records % SWEEP_EVERY === 0) this.sql.sweep.run(now);
    return this.sql.record.run(hash(signature), expiresAt, now).changes === 1;
  }

  /** Rows kept (expired ones not yet swept included). */
  size(): number {
    return (this.sql.count.get() as { n: number }).n;
  }
}
