/**
 * Outbox row ids (outbox-table.ts `OutboxTable`, store/db.ts migration 5): given by the table,
 * not by AUTOINCREMENT, so an INSERT commits one page instead of two (the sqlite_sequence row),
 * and still strictly increasing and never used twice, after the table emptied and across
 * restarts: the send ids services deduplicate on carry them, and per-target order follows them.
 */
import { afterEach, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { statSync } from "node:fs";
import { join } from "node:path";
import { MemoryBackend } from "../../src/chat/memory.ts";
import { Outbox } from "../../src/delivery/outbox.ts";
import { OutboxTable } from "../../src/delivery/outbox-table.ts";
import { openDatabase } from "../../src/store/db.ts";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function outboxOn(db: Database, backend = new MemoryBackend()) {
  const outbox = new Outbox({ db, backend, deadAfterMs: 60_000, maxRetryDelayMs: 100, stopGraceMs: 50 });
  cleanups.push(() => outbox.stop());
  return { outbox, backend };
}

/** The outbox as st2bot created it up to 8ab7e74 (migration 1, verbatim) and the meta table (migration 2), at user_version 4. */
function oldSchemaDatabase(file: string): Database {
  const old = new Database(file, { create: true });
  old.exec("PRAGMA journal_mode = WAL");
  old.exec(`CREATE TABLE outbox (
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
   CREATE INDEX outbox_dead ON outbox (id) WHERE dead = 1;
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   INSERT INTO meta (key, value) VALUES ('secure_delete_scrubbed', 'then');
   PRAGMA user_version = 4;`);
  return old;
}

const outboxSql = (db: Database) => (db.query("SELECT sql FROM sqlite_master WHERE name = 'outbox'").get() as { sql: string }).sql;

test("a database of the old schema keeps every row and id; the next id follows the highest ever used, though the newest rows were deleted", async () => {
  const file = join(tmp("ids"), "st2bot.sqlite");
  const old = oldSchemaDatabase(file);
  const insert = old.prepare("INSERT INTO outbox (target_key, payload, source, created_at, attempts, parts_sent) VALUES (?, ?, 'stream', ?, ?, ?)");
  for (let i = 1; i <= 5; i++) insert.run("channel:#ops", JSON.stringify({ message: `m${i}`, channel: "#ops" }), 1000 + i, i === 2 ? 3 : 0, 0);
  old.exec("UPDATE outbox SET dead = 1, last_error = 'refused' WHERE id = 2");
  old.exec("DELETE FROM outbox WHERE id >= 4");
  const before = old.query("SELECT * FROM outbox ORDER BY id").all();
  old.close();

  const db = openDatabase(file);
  cleanups.push(() => db.close());
  expect((db.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(5);
  expect(outboxSql(db)).not.toContain("AUTOINCREMENT");
  expect(db.query("SELECT * FROM outbox ORDER BY id").all()).toEqual(before);
  expect(db.query("SELECT name FROM sqlite_master WHERE name = 'outbox_dead'").get()).toEqual({ name: "outbox_dead" });

  const { outbox, backend } = outboxOn(db);
  // Ids 4 and 5 were used (and deleted): never again.
  expect(outbox.enqueue({ message: "after the upgrade", channel: "#ops" }, "stream")).toBe(6);
  expect(outbox.listDead().map((d) => d.id)).toEqual([2]);
  outbox.start();
  expect(await outbox.drain(5000)).toBe(true);
  expect(backend.sent.map((s) => s.text)).toEqual(["m1", "m3", "after the upgrade"]);
});

test("ids keep rising after the outbox emptied, in this run and after a restart (no AUTOINCREMENT to remember them)", async () => {
  const file = join(tmp("ids"), "st2bot.sqlite");
  const used: number[] = [];
  let db = openDatabase(file);
  let { outbox } = outboxOn(db);
  outbox.start();
  for (let i = 0; i < 3; i++) {
    used.push(outbox.enqueue({ message: `first run ${i}`, channel: "#ops" }, "bot"));
    expect(await outbox.drain(5000)).toBe(true);
    expect((db.query("SELECT COUNT(*) AS n FROM outbox").get() as { n: number }).n).toBe(0);
  }
  await outbox.stop();
  db.close();

  db = openDatabase(file);
  cleanups.push(() => db.close());
  ({ outbox } = outboxOn(db));
  outbox.start();
  used.push(outbox.enqueue({ message: "second run", channel: "#ops" }, "bot"));
  used.push(outbox.enqueue({ message: "second run, again", channel: "#ops" }, "bot"));
  expect(await outbox.drain(5000)).toBe(true);
  for (let i = 1; i < used.length; i++) expect(used[i]!).toBeGreaterThan(used[i - 1]!);
});

test("a stored reply commits one page: the WAL grows by one frame per INSERT", () => {
  const file = join(tmp("ids"), "st2bot.sqlite");
  const db = openDatabase(file);
  cleanups.push(() => db.close());
  const { outbox } = outboxOn(db);
  const page = (db.query("PRAGMA page_size").get() as { page_size: number }).page_size;
  outbox.enqueue({ message: "warm", channel: "#ops" }, "bot");
  const wal = () => statSync(`${file}-wal`).size;
  const before = wal();
  for (let i = 0; i < 3; i++) outbox.enqueue({ message: `reply ${i}`, channel: "#ops" }, "bot");
  // A frame is the page plus its 24-byte header; AUTOINCREMENT made it two (sqlite_sequence's page).
  expect((wal() - before) / (page + 24)).toBe(3);
});

test("two tables on one database never give the same id", () => {
  const db = openDatabase(join(tmp("ids"), "st2bot.sqlite"));
  cleanups.push(() => db.close());
  const a = new OutboxTable(db);
  const b = new OutboxTable(db);
  const ids = [a.insert("k", "{}", "bot", 0, null), b.insert("k", "{}", "bot", 0, null), a.insert("k", "{}", "bot", 0, null), b.insert("k", "{}", "bot", 0, null)];
  expect(new Set(ids).size).toBe(4);
});
