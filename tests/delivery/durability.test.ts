/**
 * The outbox's accepting writes are durable against a power loss, not only a crash: the
 * transaction that stores a webhook's message (before its 202) or a batch of stream
 * announcements commits under `synchronous = FULL` (WAL fsynced at commit). A trigger records
 * the connection's `synchronous` setting at the moment of each INSERT.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { MemoryBackend } from "../../src/chat/memory.ts";
import { Outbox } from "../../src/delivery/outbox.ts";
import { captureLogs } from "../../src/lib/log.ts";
import { openDatabase } from "../../src/store/db.ts";
import { tempDbPath, tempDirs } from "../support/tmp.ts";
import { waitFor } from "../support/wait.ts";

const tmp = tempDirs();

captureLogs(() => {}, "error");
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const FULL = 2;
const NORMAL = 1;

function setup() {
  const path = tempDbPath(tmp, "durable");
  const db = openDatabase(path);
  cleanups.push(() => db.close());
  db.exec(`CREATE TABLE sync_seen (source TEXT, sync INTEGER);
    CREATE TRIGGER outbox_sync AFTER INSERT ON outbox BEGIN
      INSERT INTO sync_seen SELECT new.source, synchronous FROM pragma_synchronous;
    END;`);
  const backend = new MemoryBackend({ name: "test" });
  const outbox = new Outbox({ db, backend, deadAfterMs: 60_000, maxRetryDelayMs: 200, stopGraceMs: 50 });
  cleanups.push(() => outbox.stop());
  const seen = () => db.query("SELECT source, sync FROM sync_seen").all() as { source: string; sync: number }[];
  const setting = () => (db.query("PRAGMA synchronous").get() as { synchronous: number }).synchronous;
  return { db, outbox, backend, seen, setting, path };
}

describe("durable acceptance", () => {
  test("a webhook's message is stored under synchronous=FULL, and the connection goes back to NORMAL", () => {
    const { outbox, seen, setting } = setup();
    expect(setting()).toBe(NORMAL);
    outbox.enqueue({ message: "hello", channel: "#ops" }, "webhook");
    expect(seen()).toEqual([{ source: "webhook", sync: FULL }]);
    expect(setting()).toBe(NORMAL);
  });

  test("a batch of stream announcements is stored under synchronous=FULL before any is sent", async () => {
    const { outbox, backend, seen, setting } = setup();
    outbox.start();
    for (let i = 0; i < 50; i++) outbox.enqueueSoon({ message: `m${i}`, channel: "#ops" }, "stream");
    await new Promise((resolve) => setImmediate(resolve));
    expect(await outbox.drain(5000)).toBe(true);
    expect(backend.sent.length).toBe(50);
    expect(seen().every((r) => r.source === "stream" && r.sync === FULL)).toBe(true);
    expect(seen().length).toBe(50);
    expect(setting()).toBe(NORMAL);
  });

  test("the bot's own replies stay NORMAL (they need only survive a crash of st2bot)", () => {
    const { outbox, seen, setting } = setup();
    outbox.enqueue({ message: "ack", channel: "#ops" }, "bot");
    expect(seen()).toEqual([{ source: "bot", sync: NORMAL }]);
    expect(setting()).toBe(NORMAL);
  });
});

describe("WAL checkpoints", () => {
  test("happen once the outbox is idle, not only when a commit crosses SQLite's limit", async () => {
    const { outbox, path } = setup();
    const before = statSync(path).size;
    // ~1 MB (about 250 pages): far below SQLite's automatic checkpoint, so without the idle
    // checkpoint every byte would still be in the WAL and the database file would not grow.
    for (let i = 0; i < 20; i++) outbox.enqueue({ message: "x".repeat(50_000), channel: "#ops" }, "webhook");
    expect(statSync(path).size).toBe(before);
    await waitFor("the idle checkpoint to grow the database file", () => statSync(path).size !== before, 3000);
    expect(statSync(path).size).toBeGreaterThan(before + 900_000);
  });
});

describe("accept: durable and batched", () => {
  test("concurrent accepts share one durable commit and resolve with their stored ids", async () => {
    const { db, outbox, backend, seen } = setup();
    outbox.start();
    const exec = db.exec.bind(db);
    let fullCommits = 0;
    db.exec = ((sql: string) => {
      if (/synchronous = FULL/.test(sql)) fullCommits++;
      return exec(sql);
    }) as typeof db.exec;
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => outbox.accept({ message: `w${i}`, channel: "#ops" }, "webhook")));
    expect(fullCommits).toBe(1);
    expect(new Set(ids).size).toBe(20);
    expect(seen().length).toBe(20);
    expect(seen().every((r) => r.sync === FULL)).toBe(true);
    expect(await outbox.drain(5000)).toBe(true);
    expect(backend.sent.map((m) => m.text)).toEqual(Array.from({ length: 20 }, (_, i) => `w${i}`));
  });

  test("a message that cannot be stored rejects its accept and is not kept for a retry", async () => {
    const { db, outbox } = setup();
    db.exec("DROP TRIGGER outbox_sync; ALTER TABLE outbox RENAME TO outbox_gone");
    await expect(outbox.accept({ message: "lost?", channel: "#ops" }, "webhook")).rejects.toThrow();
    db.exec("ALTER TABLE outbox_gone RENAME TO outbox");
    await Bun.sleep(1200);
    expect((db.query("SELECT COUNT(*) AS n FROM outbox").get() as { n: number }).n).toBe(0);
  });
});
