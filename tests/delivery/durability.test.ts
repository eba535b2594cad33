/**
 * The outbox's accepting writes are durable against a power loss, not only a crash: a batch of
 * stream announcements (and a webhook post) is committed at synchronous=NORMAL and handed to
 * delivery (or answered) only once an fsync of the WAL file, begun after that commit, returned
 * (walsync.ts); without a usable WAL the commit is FULL. The fsync is real by default; tests
 * that need to hold or fail it pass `syncWal`, which still fsyncs for real once released.
 * A trigger records the connection's `synchronous` setting at the moment of each INSERT.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { fstatSync, statSync } from "node:fs";
import { MemoryBackend } from "../../src/chat/memory.ts";
import { INLINE_BATCH } from "../../src/delivery/intake.ts";
import { Outbox } from "../../src/delivery/outbox.ts";
import { fsyncFile, type SyncFile } from "../../src/delivery/walsync.ts";
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

/** A `syncWal` seam: each call waits until the test releases (or fails) it, then fsyncs for real. */
function heldSync() {
  const calls: Array<{ fd: number; release: () => void; fail: (err: Error) => void; done: boolean }> = [];
  let auto = false;
  const sync: SyncFile = (fd) =>
    new Promise<void>((resolve, reject) => {
      const call = {
        fd,
        done: false,
        release: () => {
          call.done = true;
          fsyncFile(fd).then(resolve, reject);
        },
        fail: (err: Error) => {
          call.done = true;
          reject(err);
        },
      };
      calls.push(call);
      if (auto) call.release();
    });
  return {
    sync,
    calls,
    /** The calls not yet released or failed. */
    held: () => calls.filter((c) => !c.done),
    /** From now on every sync goes through at once. */
    releaseAll: () => {
      auto = true;
      for (const c of calls) if (!c.done) c.release();
    },
  };
}

/** An outbox on a real database file; every batch takes the thread pool's fsync unless `inlineBatch` says otherwise. */
function setup(syncWal?: SyncFile, inlineBatch = 0) {
  const path = tempDbPath(tmp, "durable");
  // As st2bot opens it: held alone (store/db.ts `holdAlone`).
  const db = openDatabase(path, { alone: true });
  cleanups.push(() => db.close());
  db.exec(`CREATE TABLE sync_seen (source TEXT, sync INTEGER);
    CREATE TRIGGER outbox_sync AFTER INSERT ON outbox BEGIN
      INSERT INTO sync_seen SELECT new.source, synchronous FROM pragma_synchronous;
    END;`);
  const backend = new MemoryBackend({ name: "test" });
  const outbox = new Outbox({ db, backend, deadAfterMs: 60_000, maxRetryDelayMs: 200, stopGraceMs: 50, syncWal, inlineBatch });
  cleanups.push(() => outbox.stop());
  const seen = () => db.query("SELECT source, sync FROM sync_seen").all() as { source: string; sync: number }[];
  const setting = () => (db.query("PRAGMA synchronous").get() as { synchronous: number }).synchronous;
  const rows = () => (db.query("SELECT COUNT(*) AS n FROM outbox").get() as { n: number }).n;
  return { db, outbox, backend, seen, setting, rows, path };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
const ops = (n: number, prefix = "m") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe("durable acceptance: NORMAL commit, then the WAL's fsync off the main thread", () => {
  test("nothing of a stream batch reaches the backend before the fsync of the WAL its commit wrote to returned", async () => {
    const s = heldSync();
    const { outbox, backend, seen, setting, rows, path } = setup(s.sync);
    outbox.start();
    for (const m of ops(50)) outbox.enqueueSoon({ message: m, channel: "#ops" }, "stream");
    await waitFor("the fsync of the batch's commit to start", () => s.held().length === 1, 2000);
    // Committed (NORMAL), the main thread free, and the sync is on the WAL file's own inode.
    expect(rows()).toBe(50);
    expect(seen().every((r) => r.sync === NORMAL)).toBe(true);
    expect(setting()).toBe(NORMAL);
    const fd = s.held()[0]!.fd;
    expect(fstatSync(fd).ino).toBe(statSync(`${path}-wal`).ino);
    await Bun.sleep(100);
    expect(backend.sent.length).toBe(0);
    s.releaseAll();
    expect(await outbox.drain(5000)).toBe(true);
    expect(backend.sent.map((m) => m.text)).toEqual(ops(50));
  });

  test("with the real fsync, a batch is stored NORMAL and delivered in order", async () => {
    const { outbox, backend, seen } = setup();
    outbox.start();
    for (const m of ops(50)) outbox.enqueueSoon({ message: m, channel: "#ops" }, "stream");
    await turn();
    expect(await outbox.drain(5000)).toBe(true);
    expect(backend.sent.map((m) => m.text)).toEqual(ops(50));
    expect(seen().length).toBe(50);
    expect(seen().every((r) => r.source === "stream" && r.sync === NORMAL)).toBe(true);
  });

  test("a lone result, nothing waiting for an fsync: committed FULL on the main thread, no thread-pool round trip; a bigger batch takes the pool", async () => {
    const s = heldSync();
    const { outbox, backend, seen } = setup(s.sync, INLINE_BATCH);
    outbox.start();
    outbox.enqueueSoon({ message: "alone", channel: "#ops" }, "stream");
    await waitFor("the lone result delivered", () => backend.sent.length === 1, 2000);
    expect(s.calls.length).toBe(0);
    expect(seen()).toEqual([{ source: "stream", sync: FULL }]);
    for (const m of ops(INLINE_BATCH + 1)) outbox.enqueueSoon({ message: m, channel: "#ops" }, "stream");
    await waitFor("the batch's fsync to start", () => s.held().length === 1, 2000);
    expect(backend.sent.length).toBe(1);
    s.releaseAll();
    expect(await outbox.drain(5000)).toBe(true);
    expect(backend.sent.map((m) => m.text)).toEqual(["alone", ...ops(INLINE_BATCH + 1)]);
    expect(seen().slice(1).every((r) => r.sync === NORMAL)).toBe(true);
  });

  test("group commit: commits made while an fsync runs share the next one, and are admitted in commit order", async () => {
    const s = heldSync();
    const { outbox, backend } = setup(s.sync);
    outbox.start();
    outbox.enqueueSoon({ message: "a0", channel: "#ops" }, "stream");
    await waitFor("the first fsync", () => s.held().length === 1, 2000);
    // Three more commits (three turns) while the first fsync is held: none starts an fsync of its own.
    for (const batch of ["b", "c", "d"]) {
      for (const m of ops(3, batch)) outbox.enqueueSoon({ message: m, channel: "#ops" }, "stream");
      await turn();
    }
    // The bot's own reply (NORMAL, no fsync wait) is admitted behind them all: id order holds.
    outbox.enqueue({ message: "bot", channel: "#ops" }, "bot");
    await Bun.sleep(50);
    expect(s.calls.length).toBe(1);
    expect(backend.sent.length).toBe(0);
    s.calls[0]!.release();
    await waitFor("the second fsync", () => s.calls.length === 2, 2000);
    expect(backend.sent.map((m) => m.text)).toEqual(["a0"]);
    s.calls[1]!.release();
    expect(await outbox.drain(5000)).toBe(true);
    expect(s.calls.length).toBe(2);
    expect(backend.sent.map((m) => m.text)).toEqual(["a0", ...ops(3, "b"), ...ops(3, "c"), ...ops(3, "d"), "bot"]);
  });

  test("a failed fsync sends nothing of the batches waiting for it, removes their rows, and stores them again with FULL", async () => {
    const s = heldSync();
    const { outbox, backend, seen, rows } = setup(s.sync);
    outbox.start();
    for (const m of ops(5)) outbox.enqueueSoon({ message: m, channel: "#ops" }, "stream");
    await waitFor("the fsync", () => s.held().length === 1, 2000);
    for (const m of ops(3, "later")) outbox.enqueueSoon({ message: m, channel: "#ops" }, "stream");
    await turn();
    expect(rows()).toBe(8);
    s.calls[0]!.fail(Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" }));
    // Both batches fail (the later one waited for the next fsync: after a failed fsync none can
    // vouch for what was written before it), their rows are gone, nothing was sent.
    await waitFor("the failed batches' rows to be removed", () => rows() === 0, 2000);
    await Bun.sleep(50);
    expect(backend.sent.length).toBe(0);
    // Retried a second later, committed FULL from now on, in the original order, each once.
    await waitFor("the retry to store them", () => rows() > 0 || backend.sent.length > 0, 3000);
    expect(await outbox.drain(5000)).toBe(true);
    expect(backend.sent.map((m) => m.text)).toEqual([...ops(5), ...ops(3, "later")]);
    expect(seen().slice(8).every((r) => r.sync === FULL)).toBe(true);
    expect(seen().length).toBe(16);
    expect(s.calls.length).toBe(1);
  });
});

describe("the webhook's writes", () => {
  test("a post is answered (its id) only once the fsync returned; concurrent posts share one commit and one fsync", async () => {
    const s = heldSync();
    const { outbox, backend, seen } = setup(s.sync);
    outbox.start();
    let answered = 0;
    const posts = ops(20, "w").map((m) => outbox.webhook.enqueue({ message: m, channel: "#ops" }, "webhook").then((id) => (answered++, id)));
    await waitFor("the fsync", () => s.held().length === 1, 2000);
    await Bun.sleep(50);
    expect(answered).toBe(0);
    expect(backend.sent.length).toBe(0);
    expect(seen().length).toBe(20);
    s.releaseAll();
    const ids = await Promise.all(posts);
    expect(new Set(ids).size).toBe(20);
    expect(s.calls.length).toBe(1);
    expect(await outbox.drain(5000)).toBe(true);
    expect(backend.sent.map((m) => m.text)).toEqual(ops(20, "w"));
  });

  test("a failed fsync rejects the post (the webhook answers 503) and keeps nothing of it", async () => {
    const s = heldSync();
    const { outbox, backend, rows } = setup(s.sync);
    outbox.start();
    const post = outbox.webhook.enqueue({ message: "lost?", channel: "#ops" }, "webhook");
    await waitFor("the fsync", () => s.held().length === 1, 2000);
    s.calls[0]!.fail(new Error("EIO"));
    await expect(post).rejects.toThrow("EIO");
    expect(rows()).toBe(0);
    // The next post commits FULL (the WalSync stays failed) and is stored and sent.
    const id = await outbox.webhook.enqueue({ message: "next", channel: "#ops" }, "webhook");
    expect(id).toBeGreaterThan(0);
    expect(await outbox.drain(5000)).toBe(true);
    expect(backend.sent.map((m) => m.text)).toEqual(["next"]);
  });

  test("a signed post's write (with its replay record) commits FULL at once", () => {
    const { outbox, seen, db } = setup();
    db.exec("CREATE TABLE rec (x)");
    outbox.webhook.enqueueWith({ message: "signed", channel: "#ops" }, "webhook", () => db.exec("INSERT INTO rec VALUES (1)"));
    expect(seen()).toEqual([{ source: "webhook", sync: FULL }]);
  });

  test("the bot's own replies commit FULL too: on disk before they are sent, like every message", () => {
    const { outbox, seen, setting } = setup();
    outbox.enqueue({ message: "ack", channel: "#ops" }, "bot");
    expect(seen()).toEqual([{ source: "bot", sync: FULL }]);
    expect(setting()).toBe(NORMAL);
  });

  test("the synchronous enqueue (cluster relay, direct callers) still commits FULL", () => {
    const { outbox, seen, setting } = setup();
    outbox.enqueue({ message: "hello", channel: "#ops" }, "webhook");
    expect(seen()).toEqual([{ source: "webhook", sync: FULL }]);
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

  test("a checkpoint that empties the WAL between a commit and its fsync: the rows are in the synced database file, then delivered", async () => {
    const s = heldSync();
    const { db, outbox, backend, path } = setup(s.sync);
    outbox.start();
    for (const m of ops(10)) outbox.enqueueSoon({ message: m, channel: "#ops" }, "stream");
    await waitFor("the fsync", () => s.held().length === 1, 2000);
    const checkpoint = db.query("PRAGMA wal_checkpoint(TRUNCATE)").get() as { busy: number; log: number; checkpointed: number };
    expect(checkpoint.busy).toBe(0);
    expect(statSync(`${path}-wal`).size).toBe(0);
    // The rows now live in the main file (synced by SQLite after the checkpoint); the WAL's inode is the same.
    expect(fstatSync(s.held()[0]!.fd).ino).toBe(statSync(`${path}-wal`).ino);
    s.releaseAll();
    expect(await outbox.drain(5000)).toBe(true);
    expect(backend.sent.map((m) => m.text)).toEqual(ops(10));
    // Later batches still take the NORMAL + fsync path on the same file.
    outbox.enqueueSoon({ message: "after", channel: "#ops" }, "stream");
    await turn();
    expect(await outbox.drain(5000)).toBe(true);
    expect(s.calls.length).toBe(2);
  });
});

describe("accept: durable and batched", () => {
  test("a message that cannot be stored rejects its accept and is not kept for a retry", async () => {
    const { db, outbox } = setup();
    db.exec("DROP TRIGGER outbox_sync; ALTER TABLE outbox RENAME TO outbox_gone");
    await expect(outbox.accept({ message: "lost?", channel: "#ops" }, "webhook")).rejects.toThrow();
    db.exec("ALTER TABLE outbox_gone RENAME TO outbox");
    await Bun.sleep(1200);
    expect((db.query("SELECT COUNT(*) AS n FROM outbox").get() as { n: number }).n).toBe(0);
  });

  test("an outbox on a database in memory (no WAL file) commits FULL", async () => {
    const db = openDatabase(":memory:");
    cleanups.push(() => db.close());
    const backend = new MemoryBackend({ name: "test" });
    const outbox = new Outbox({ db, backend, deadAfterMs: 60_000, maxRetryDelayMs: 200, stopGraceMs: 50 });
    cleanups.push(() => outbox.stop());
    outbox.start();
    const id = await outbox.accept({ message: "mem", channel: "#ops" }, "webhook");
    expect(id).toBeGreaterThan(0);
    expect(await outbox.drain(5000)).toBe(true);
    expect(backend.sent.map((m) => m.text)).toEqual(["mem"]);
  });
});
