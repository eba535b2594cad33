/**
 * The embedded SQLite database (bun:sqlite, WAL): the outbox, login sessions and the secrets
 * store live here. Migrations run in order at open and are recorded in `user_version`.
 *
 * Private on disk: the directory is 0700 and the database, its WAL and shared-memory files are
 * 0600 — created so, and tightened at open (with a log line) when an older run or another tool
 * left them readable by others. `secure_delete` overwrites deleted rows in the database file.
 * (The WAL keeps old page images until it is reused, which is why secrets are never stored in
 * clear at all: see store/seal.ts.)
 */
import { Database } from "bun:sqlite";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, statSync } from "node:fs";
import { basename, dirname } from "node:path";
import { logger } from "../lib/log.ts";

const log = logger("store");

const MIGRATIONS: string[] = [
  // 1: the durable outbox: one row per message accepted for delivery. Pending rows are read
  // once at start in id order, so only dead rows are indexed (every index costs each INSERT).
  `CREATE TABLE outbox (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     target_key TEXT NOT NULL,
     payload TEXT NOT NULL,
     source TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL DEFAULT 0,
     last_error TEXT,
     dead INTEGER NOT NULL DEFAULT 0,
     parts_sent INTEGER NOT NULL DEFAULT 0,
     replayed_at INTEGER
   );
   CREATE INDEX outbox_dead ON outbox (id) WHERE dead = 1;`,
  // 2: client-side login sessions and the encrypted secrets store.
  `CREATE TABLE sessions (
     id_hash TEXT PRIMARY KEY,
     chat_user TEXT NOT NULL,
     secret_hash TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     consumed INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE secrets (
     chat_user TEXT PRIMARY KEY,
     nonce BLOB NOT NULL,
     ciphertext BLOB NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  // 3: signed webhook posts already accepted (the SHA-256 of their signature), kept until their
  // timestamp leaves the accepted window, so a replay is refused across restarts (store/replay.ts).
  `CREATE TABLE webhook_replay (signature_hash TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE INDEX webhook_replay_expiry ON webhook_replay (expires_at);`,
  // 4: callback tokens of chat buttons (the SHA-256 of each, never the token) and the answer a
  // group of them got, kept until they expire (store/actions.ts).
  `CREATE TABLE action_tokens (
     token_hash TEXT PRIMARY KEY,
     grp TEXT NOT NULL,
     command TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX action_tokens_expiry ON action_tokens (expires_at);
   CREATE TABLE action_answers (grp TEXT PRIMARY KEY, note TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;`,
  // 5: the outbox without AUTOINCREMENT, whose sqlite_sequence row made every INSERT write a
  // second page; the outbox gives ids itself (delivery/outbox-table.ts `OutboxIds`), above the
  // highest ever used: `meta.outbox_id_floor` takes over from sqlite_sequence. Same rows, same ids.
  `CREATE TABLE outbox_v5 (
     id INTEGER PRIMARY KEY,
     target_key TEXT NOT NULL,
     payload TEXT NOT NULL,
     source TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL DEFAULT 0,
     last_error TEXT,
     dead INTEGER NOT NULL DEFAULT 0,
     parts_sent INTEGER NOT NULL DEFAULT 0,
     replayed_at INTEGER
   );
   INSERT INTO outbox_v5 (id, target_key, payload, source, created_at, attempts, next_attempt_at, last_error, dead, parts_sent, replayed_at)
     SELECT id, target_key, payload, source, created_at, attempts, next_attempt_at, last_error, dead, parts_sent, replayed_at FROM outbox;
   INSERT OR REPLACE INTO meta (key, value)
     SELECT 'outbox_id_floor', CAST(seq AS TEXT) FROM sqlite_sequence WHERE name = 'outbox';
   DROP TABLE outbox;
   ALTER TABLE outbox_v5 RENAME TO outbox;
   CREATE INDEX outbox_dead ON outbox (id) WHERE dead = 1;`,
];

/** How `openDatabase` opens. */
export interface OpenOptions {
  /**
   * Keep the file to this connection alone until it is closed (st2bot's own database while it
   * runs; see `holdAlone`). Another process opening it meanwhile gets `inUse`'s error.
   */
  alone?: boolean;
}

/**
 * Opens (creating if needed) the database at `path`, or in memory for `:memory:`. On disk, the
 * directory and files are made private first (see the file comment). A database another
 * connection holds `alone` throws an Error with code SQLITE_BUSY that says so.
 */
export function openDatabase(path: string, opts: OpenOptions = {}): Database {
  const onDisk = path !== ":memory:";
  if (onDisk) prepareFiles(path);
  const db = new Database(path, { create: true, strict: true });
  try {
    db.exec("PRAGMA secure_delete = ON");
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA busy_timeout = 5000");
    if (onDisk && opts.alone) holdAlone(db);
  } catch (err) {
    db.close();
    throw (err as { code?: string }).code === "SQLITE_BUSY" ? inUse(path) : err;
  }
  // SQLite gives the -wal and -shm files the database file's mode; check anyway (they may
  // predate this run, or the journal mode switch just created them).
  if (onDisk) for (const suffix of ["-wal", "-shm"]) makePrivate(path + suffix, 0o600);
  const existed = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version > 0;
  migrate(db);
  if (onDisk) scrubOnce(db, path, existed);
  return db;
}

/**
 * Takes the database for this connection alone until it closes (`locking_mode = EXCLUSIVE`, the
 * lock taken at once by an empty write transaction). Every commit then skips the six file-lock
 * calls on the shared-memory file a shared WAL database makes (an outbox INSERT ~8 µs and a
 * DELETE ~6 µs cheaper: the INSERT is on the path of every chat reply), and a second process
 * opening the file (another st2bot on the same data_dir, `st2bot secrets rotate-key` while st2bot
 * runs) is refused at its first statement instead of both writing the outbox.
 *
 * Set after the switch to WAL, and the lock taken here rather than by the first real write: a
 * connection that set EXCLUSIVE on a new file, then WAL, then wrote, was seen (strace) to drop
 * every lock at the switch and write on while another process wrote too, each with its own WAL
 * index: a corrupt database. tests/store/db.test.ts checks a new file is held from the open on.
 */
function holdAlone(db: Database): void {
  db.exec("PRAGMA locking_mode = EXCLUSIVE");
  db.exec("BEGIN IMMEDIATE");
  db.exec("COMMIT");
  // bun:sqlite's default close (sqlite3_close_v2) waits for every prepared statement (the outbox
  // keeps its own) to be collected, and the lock with it; `close(true)` closes now (checked), so
  // the file is free for the next opener as soon as st2bot closes it.
  const close = db.close.bind(db);
  db.close = (throwOnError?: boolean) => {
    try {
      close(true);
    } catch (err) {
      if (throwOnError) throw err;
      close(false);
    }
  };
}

/** The error for a database another connection holds (see `holdAlone`); `code` stays SQLITE_BUSY. */
function inUse(path: string): Error {
  const err = new Error(`${path} is in use by another process (another st2bot with the same data_dir?): st2bot keeps its database to itself while it runs`);
  return Object.assign(err, { code: "SQLITE_BUSY" });
}

/**
 * A database written before `secure_delete` was on still holds deleted rows (delivered login
 * links among them) in its free space: rewrite it once (VACUUM), then empty the WAL, and
 * remember that it was done. A new database only gets the mark.
 */
function scrubOnce(db: Database, path: string, existed: boolean): void {
  if (db.query("SELECT 1 FROM meta WHERE key = 'secure_delete_scrubbed'").get()) return;
  if (existed) {
    const started = Date.now();
    db.exec("VACUUM");
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    log.warn(`rewrote ${path} once to erase rows deleted before secure_delete was on`, { ms: Date.now() - started });
  }
  db.query("INSERT OR REPLACE INTO meta (key, value) VALUES ('secure_delete_scrubbed', ?)").run(new Date().toISOString());
}

/** The directory 0700, the database file created 0600, and older files tightened. */
function prepareFiles(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  else if (!ownDirectory(dir, basename(path))) {
    // A shared directory (data_dir = "/tmp", ".", a home): chmod'ing it would break others.
    // The files below are still made private; only their names remain visible.
    const mode = statSync(dir).mode & 0o7777;
    if (mode & 0o077) log.warn(`${dir} is shared (mode ${octal(mode)}, it holds other files): st2bot's files in it are private, but give st2bot a data_dir of its own`);
    return prepareFile(path);
  }
  makePrivate(dir, 0o700);
  prepareFile(path);
}

/**
 * Whether `dir` is st2bot's own: owned by this user, not a sticky shared directory, and holding
 * nothing but the database `name` and its companion files.
 */
function ownDirectory(dir: string, name: string): boolean {
  const st = statSync(dir);
  if (st.mode & 0o1000) return false;
  if (typeof process.getuid === "function" && st.uid !== process.getuid()) return false;
  return readdirSync(dir).every((entry) => entry === name || COMPANIONS.some((suffix) => entry === name + suffix));
}

const COMPANIONS = ["-wal", "-shm", "-journal"];

function prepareFile(path: string): void {
  // Created by us with its final mode, so the file is never readable by others, not even briefly.
  if (!existsSync(path)) closeSync(openSync(path, "a", 0o600));
  for (const suffix of ["", ...COMPANIONS]) makePrivate(path + suffix, 0o600);
}

/** chmod `file` to `mode` when group or others have any access; says so in the log. */
function makePrivate(file: string, mode: number): void {
  let current: number;
  try {
    current = statSync(file).mode & 0o777;
  } catch {
    return;
  }
  if ((current & 0o077) === 0) return;
  try {
    chmodSync(file, mode);
    log.warn(`made ${file} private: mode ${octal(current)} → ${octal(mode)} (it held chat messages and login data readable by other local users)`);
  } catch (err) {
    log.error(`${file} is readable by other local users (mode ${octal(current)}) and could not be made private; run chmod ${octal(mode)} ${file}`, {
      error: (err as NodeJS.ErrnoException).code ?? String(err),
    });
  }
}

const octal = (mode: number) => "0" + mode.toString(8);

function migrate(db: Database): void {
  const row = db.query("PRAGMA user_version").get() as { user_version: number };
  for (let version = row.user_version; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.exec(`PRAGMA user_version = ${version + 1}`);
    })();
  }
}

export type { Database };
