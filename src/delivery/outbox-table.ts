/**
 * The outbox's table: every statement the outbox runs and the mapping between its rows and the
 * entries delivery works on. Nothing here decides anything; it stores what it is told.
 */
import type { Database, Statement } from "bun:sqlite";
import type { Announcement } from "./announcement.ts";

/** Who handed a message over; stored with it and shown in `!st2outbox`. */
export type OutboxSource = "stream" | "webhook" | "bot";

/** The target key of a message that names no target (stored dead at once, never replayable). */
export const NO_TARGET = "none:";

/** One accepted row, in memory while it waits for delivery. */
export interface Entry {
  id: number;
  key: string;
  payload: string;
  acceptedAt: number;
  /** When the row was stored (never changes, unlike acceptedAt on replay): part of its send ids. */
  createdAt: number;
  attempts: number;
  partsSent: number;
  /** The payload parsed (and opened, if sealed), once delivery looked at it. */
  announcement?: Announcement;
  /** The message split to the backend's size, once delivery looked at it. */
  parts?: string[];
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

const COLUMNS = "id, target_key, payload, source, created_at, attempts, parts_sent, replayed_at, last_error";

/**
 * How far above the highest deleted id `meta.outbox_id_floor` is set when a delete passes it:
 * one write of the floor per this many ids, at most this many ids skipped after a restart.
 */
const FLOOR_STEP = 1000;

/**
 * The `outbox` table of `db` (created by the store's migrations), behind prepared statements.
 *
 * Row ids are given here, not by SQLite: strictly increasing and never used twice, even after
 * the table emptied and st2bot restarted (the send ids that services deduplicate on carry them),
 * without AUTOINCREMENT's sqlite_sequence page in every INSERT's commit (the INSERT is on the path
 * of every chat reply; that page is ~6 µs of it). Every id at or below `meta.outbox_id_floor`
 * may have been used: a delete that removes an id above it raises it in the same transaction (by
 * FLOOR_STEP, so rarely); the next id is above both the floor and every row left.
 */
export class OutboxTable {
  private readonly sql: ReturnType<typeof prepare>;
  private nextId: number;
  /** `meta.outbox_id_floor` as stored. */
  private floor: number;

  constructor(private readonly db: Database) {
    this.sql = prepare(db);
    this.floor = this.storedFloor();
    this.nextId = this.firstFreeId();
  }

  /** INSERTs one row (dead at once when `deadReason` is given) and returns its id. */
  insert(key: string, payload: string, source: OutboxSource, createdAt: number, deadReason: string | null): number {
    const id = this.nextId++;
    try {
      this.sql.insert.run(id, key, payload, source, createdAt, deadReason ? 1 : 0, deadReason);
    } catch (err) {
      // Another OutboxTable on this database took the id (tests): go above every row and retry once.
      if ((err as { code?: string }).code !== "SQLITE_CONSTRAINT_PRIMARYKEY") throw err;
      this.nextId = this.firstFreeId();
      return this.insert(key, payload, source, createdAt, deadReason);
    }
    return id;
  }

  /** Above the floor and every row in the table. */
  private firstFreeId(): number {
    const max = (this.sql.maxId.get() as { m: number | null }).m ?? 0;
    return Math.max(max, this.floor, this.nextId ?? 0) + 1;
  }

  private storedFloor(): number {
    const row = this.sql.floor.get() as { value: string } | null;
    return row ? Number(row.value) || 0 : 0;
  }

  /** Runs `work` in one transaction of this database: all of its writes are stored or none. */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  /**
   * Runs `write` with `synchronous = FULL`: its commit returns only once the WAL is on the
   * disk (fsync), so what it stored survives a power loss, not only a crash. Used for durable
   * writes when the WAL's fsync cannot be run after a NORMAL commit (walsync.ts), and for the
   * synchronous ones. The rest of the outbox's writes (deletes, progress) stay NORMAL: losing
   * one means a resend, not a loss.
   */
  durably<T>(write: () => T): T {
    // exec, not a prepared statement: SQLite applies this PRAGMA when it compiles it.
    this.db.exec("PRAGMA synchronous = FULL");
    try {
      return write();
    } finally {
      this.db.exec("PRAGMA synchronous = NORMAL");
    }
  }

  /** Every row neither delivered nor dead, oldest first. */
  pending(): Entry[] {
    return (this.sql.pending.all() as Row[]).map(entryOf);
  }

  /** Records that the first `partsSent` parts of row `id` were confirmed. */
  progress(id: number, partsSent: number): void {
    this.sql.progress.run(partsSent, id);
  }

  /** Records a failed attempt: the attempts so far, when the next is due, and why. */
  failed(id: number, attempts: number, nextAttemptAt: number, lastError: string): void {
    this.sql.failed.run(attempts, nextAttemptAt, lastError, id);
  }

  /** Marks row `id` dead with its reason. */
  markDead(id: number, reason: string, attempts: number): void {
    this.sql.markDead.run(reason, attempts, id);
  }

  /** How many rows are dead. */
  countDead(): number {
    return (this.sql.countDead.get() as { n: number }).n;
  }

  /** The oldest `limit` dead rows, their payload parsed (never opened: a sealed text stays sealed). */
  listDead(limit: number): DeadMessage[] {
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
   * Makes dead rows (one id, or all) pending again with a clean record and `replayed_at = now`,
   * and returns them. A row that names no target is never made pending.
   */
  replay(id: number | "all", now: number): Entry[] {
    return ((id === "all" ? this.sql.replayAll.all(now) : this.sql.replayOne.all(now, id)) as Row[]).map(entryOf);
  }

  /**
   * Deletes the rows of `ids` in one transaction: one statement per run of consecutive ids; the
   * id floor raised with them when they pass it (see the class comment).
   */
  deleteMany(ids: number[]): void {
    const runs = runsOf(ids);
    if (runs.length === 0) return;
    const top = runs[runs.length - 1]![1];
    if (top > this.floor) {
      const floor = top + FLOOR_STEP;
      this.sql.deleteRaising(runs, String(floor));
      this.floor = floor;
      return;
    }
    // One statement is a transaction of its own: no BEGIN/COMMIT around it.
    if (runs.length === 1) this.sql.deleteRun.run(runs[0]![0], runs[0]![1]);
    else this.sql.deleteMany(runs);
  }
}

/** A stored payload parsed; undefined when it is not an announcement (an unreadable row). */
export function parsePayload(payload: string): Announcement | undefined {
  try {
    const a = JSON.parse(payload) as Announcement;
    return typeof a === "object" && a !== null && typeof a.message === "string" ? a : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `ids` as runs of consecutive numbers `[first, last]`, in ascending order (confirmed messages
 * of a burst are mostly one run: one DELETE instead of one per row).
 */
export function runsOf(ids: number[]): Array<[number, number]> {
  let ascending = true;
  for (let i = 1; i < ids.length && ascending; i++) ascending = ids[i - 1]! < ids[i]!;
  // A burst's confirmations come in id order: nothing to sort then.
  const sorted = ascending ? ids : Float64Array.from(ids).sort();
  const runs: Array<[number, number]> = [];
  for (const id of sorted) {
    const run = runs[runs.length - 1];
    if (run && id <= run[1] + 1) run[1] = Math.max(run[1], id);
    else runs.push([id, id]);
  }
  return runs;
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

function prepare(db: Database) {
  const del: Statement = db.prepare("DELETE FROM outbox WHERE id BETWEEN ? AND ?");
  const setFloor: Statement = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('outbox_id_floor', ?)");
  return {
    insert: db.prepare("INSERT INTO outbox (id, target_key, payload, source, created_at, dead, last_error) VALUES (?, ?, ?, ?, ?, ?, ?)"),
    maxId: db.prepare("SELECT max(id) AS m FROM outbox"),
    floor: db.prepare("SELECT value FROM meta WHERE key = 'outbox_id_floor'"),
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
    deleteRun: del,
    deleteMany: db.transaction((runs: Array<[number, number]>) => {
      for (const [first, last] of runs) del.run(first, last);
    }),
    deleteRaising: db.transaction((runs: Array<[number, number]>, floor: string) => {
      for (const [first, last] of runs) del.run(first, last);
      setFloor.run(floor);
    }),
  };
}
