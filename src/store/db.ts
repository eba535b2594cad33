/**
 * The embedded SQLite database (bun:sqlite, WAL): the outbox, login sessions and the secrets
 * store live here. Migrations run in order at open and are recorded in `user_version`.
 */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

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
];

/** Opens (creating if needed) the database at `path`, or in memory for `:memory:`. */
export function openDatabase(path: string): Database {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { create: true, strict: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA busy_timeout = 5000");
  migrate(db);
  return db;
}

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
