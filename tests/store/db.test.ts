/**
 * The database on disk is private (issue 10, item 5): the directory 0700, the database, WAL and
 * shared-memory files 0600 — when st2bot creates them, and when an older run left them open to
 * other local users (tightened at open, with a log line) — and deleted rows are overwritten.
 */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "../../src/store/db.ts";
import { captureLogs } from "../st2/helpers.ts";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

const mode = (path: string) => statSync(path).mode & 0o777;
let root: string;


describe("file modes", () => {
  test("a new data directory is 0700 and the database, -wal and -shm are 0600", () => {
    root = tmp("store");
    const dir = join(root, "data");
    const file = join(dir, "st2bot.sqlite");
    const db = openDatabase(file);
    db.exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('row')");
    expect(mode(dir)).toBe(0o700);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      expect(existsSync(f)).toBe(true);
      expect(mode(f)).toBe(0o600);
    }
    db.close();
  });

  test("an existing world-readable directory and files are made private at open, and the log says so", () => {
    root = tmp("store");
    const dir = join(root, "data");
    const file = join(dir, "st2bot.sqlite");
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    // What an older st2bot left: a WAL database, its files 0644.
    const old = new Database(file, { create: true });
    old.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('row')");
    for (const f of [file, `${file}-wal`, `${file}-shm`]) chmodSync(f, 0o644);
    const logs = captureLogs();
    let db: Database;
    try {
      db = openDatabase(file);
    } finally {
      logs.restore();
    }
    old.close();
    expect(mode(dir)).toBe(0o700);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) expect(mode(f)).toBe(0o600);
    expect(logs.text()).toContain(`made ${dir} private: mode 0755 → 0700`);
    expect(logs.text()).toContain(`made ${file} private: mode 0644 → 0600`);
    db.close();
  });
});

test("a shared directory (other files in it) is left as it is, with a warning; the database files are still 0600", () => {
  root = tmp("store");
  const dir = join(root, "shared");
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, "someone-elses.txt"), "x");
  const file = join(dir, "st2bot.sqlite");
  const logs = captureLogs();
  let db: Database;
  try {
    db = openDatabase(file);
  } finally {
    logs.restore();
  }
  expect(mode(dir)).toBe(0o755);
  expect(logs.text()).toContain(`${dir} is shared (mode 0755`);
  expect(mode(file)).toBe(0o600);
  db.close();
});

test("secure_delete is on: a deleted row's text is gone from the database file", () => {
  root = tmp("store");
  const file = join(root, "st2bot.sqlite");
  const db = openDatabase(file);
  expect((db.query("PRAGMA secure_delete").get() as { secure_delete: number }).secure_delete).toBe(1);
  db.exec("CREATE TABLE t (x TEXT)");
  db.query("INSERT INTO t VALUES (?)").run("needle-" + "q".repeat(50));
  db.exec("DELETE FROM t");
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  expect(readFileSync(file).includes("needle-")).toBe(false);
});

test("a database written before secure_delete is rewritten once: rows deleted back then are gone from every file", () => {
  root = tmp("store");
  const file = join(root, "st2bot.sqlite");
  // An older st2bot: same schema, secure_delete off, a delivered login link deleted.
  openDatabase(file).close();
  const old = new Database(file);
  old.exec("PRAGMA secure_delete = OFF; PRAGMA journal_mode = WAL; DELETE FROM meta WHERE key = 'secure_delete_scrubbed'");
  old.query("INSERT INTO outbox (target_key, payload, source, created_at) VALUES ('user:alice', ?, 'bot', 0)").run(
    JSON.stringify({ message: "Open https://st2bot.example.com/login/5a4bd3c2-0000-4000-8000-123456789abc now", user: "alice" }),
  );
  old.exec("DELETE FROM outbox");
  old.close();
  const files = () => [file, `${file}-wal`, `${file}-shm`].filter((f) => existsSync(f));
  expect(files().some((f) => readFileSync(f).includes("5a4bd3c2-0000"))).toBe(true);

  const logs = captureLogs();
  let db: Database;
  try {
    db = openDatabase(file);
  } finally {
    logs.restore();
  }
  expect(logs.text()).toContain("rewrote");
  expect(files().filter((f) => readFileSync(f).includes("5a4bd3c2-0000"))).toEqual([]);
  db.close();
  // Once: the next open does not rewrite again.
  const again = captureLogs();
  try {
    openDatabase(file).close();
  } finally {
    again.restore();
  }
  expect(again.text()).not.toContain("rewrote");
});

describe("held alone while st2bot runs (`alone`)", () => {
  /** Runs `sql` on `file` from another process, as a second st2bot or a stray tool would; its outcome. */
  const fromAnotherProcess = (file: string, sql: string): string => {
    const script = `const { Database } = require("bun:sqlite");
      try { const d = new Database(${JSON.stringify(file)}); d.exec(${JSON.stringify(sql)}); console.log("ok"); }
      catch (e) { console.log(e.code ?? String(e)); }`;
    return Bun.spawnSync([process.execPath, "-e", script]).stdout.toString().trim();
  };
  const rowsOf = (db: Database) => (db.query("SELECT count(*) AS n FROM meta WHERE key LIKE 'probe%'").get() as { n: number }).n;

  test("another process can neither write nor read it, from the moment it is opened (a new file too); once closed, it can", () => {
    root = tmp("store");
    const file = join(root, "st2bot.sqlite");
    // A new file: EXCLUSIVE set before the switch to WAL would leave it unlocked (see holdAlone).
    const db = openDatabase(file, { alone: true });
    expect(fromAnotherProcess(file, "INSERT INTO meta VALUES ('probe1', 'x')")).toBe("SQLITE_BUSY");
    expect(fromAnotherProcess(file, "SELECT count(*) FROM meta")).toBe("SQLITE_BUSY");
    expect(rowsOf(db)).toBe(0);
    db.exec("INSERT INTO meta VALUES ('probe2', 'x')");
    expect(fromAnotherProcess(file, "INSERT INTO meta VALUES ('probe3', 'x')")).toBe("SQLITE_BUSY");
    expect(rowsOf(db)).toBe(1);
    // A prepared statement still alive, as the outbox keeps its own.
    const held = db.prepare("SELECT count(*) AS n FROM meta WHERE key LIKE 'probe%'");
    expect(held.get()).toEqual({ n: 1 });
    db.close();
    // Closed though that statement was never finalized: the next opener gets the file.
    expect(fromAnotherProcess(file, "INSERT INTO meta VALUES ('probe4', 'x')")).toBe("ok");
    const again = openDatabase(file, { alone: true });
    expect(rowsOf(again)).toBe(2);
    again.close();
  });

  test("a second st2bot on the same file is refused at open with an error that says so; the first goes on", () => {
    root = tmp("store");
    const file = join(root, "st2bot.sqlite");
    const db = openDatabase(file, { alone: true });
    const started = performance.now();
    let err: unknown;
    try {
      openDatabase(file, { alone: true }).close();
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe("SQLITE_BUSY");
    expect(String(err)).toContain("in use by another process (another st2bot with the same data_dir?)");
    // Refused at once, not after the busy timeout.
    expect(performance.now() - started).toBeLessThan(2_000);
    db.exec("INSERT INTO meta VALUES ('probe', 'x')");
    expect(rowsOf(db)).toBe(1);
    db.close();
  });

  test("without `alone` (tools, tests) the database stays shared", () => {
    root = tmp("store");
    const file = join(root, "st2bot.sqlite");
    const db = openDatabase(file);
    expect(fromAnotherProcess(file, "INSERT INTO meta VALUES ('probe', 'x')")).toBe("ok");
    expect(rowsOf(db)).toBe(1);
    db.close();
  });
});
