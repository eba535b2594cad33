/**
 * WalSync on its own, on a plain file standing for `<db>-wal`: which inode it syncs, when it
 * refuses (so the caller commits FULL), group commit, and failure for good.
 */
import { describe, expect, test } from "bun:test";
import { fstatSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { captureLogs } from "../../src/lib/log.ts";
import { fsyncFile, type SyncFile, WalSync } from "../../src/delivery/walsync.ts";
import { tempDirs } from "../support/tmp.ts";
import { waitFor } from "../support/wait.ts";

const tmp = tempDirs();
captureLogs(() => {}, "error");

/** A sync seam recording the inode of each fd it was given; each call waits for `release`. */
function recorder() {
  const inodes: number[] = [];
  const pending: Array<{ release: () => void; fail: (e: Error) => void }> = [];
  const sync: SyncFile = (fd) => {
    inodes.push(fstatSync(fd).ino);
    return new Promise<void>((resolve, reject) => pending.push({ release: () => fsyncFile(fd).then(resolve, reject), fail: reject }));
  };
  /** The `n`th sync once it started (a real directory fsync may come first: slow on a busy disk). */
  const started = (n: number) => waitFor(`sync ${n} started`, () => pending[n], 5_000);
  return { sync, inodes, pending, started };
}

const wal = () => {
  const path = join(tmp("walsync"), "db-wal");
  writeFileSync(path, "frames");
  return path;
};
const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

describe("WalSync", () => {
  test("no WAL file: not usable (the caller commits FULL); usable once it exists", () => {
    const path = join(tmp("walsync"), "db-wal");
    const w = new WalSync(path, recorder().sync);
    expect(w.usable()).toBe(false);
    writeFileSync(path, "");
    expect(w.usable()).toBe(true);
  });

  test("syncs the inode the path names, and reopens when the file was replaced while nothing was due", async () => {
    const path = wal();
    const r = recorder();
    const w = new WalSync(path, r.sync);
    expect(w.usable()).toBe(true);
    const first = w.committed();
    await tick();
    expect(r.inodes).toEqual([statSync(path).ino]);
    (await r.started(0)).release();
    await first;
    // Replaced (the last connection closed and a new one made a new WAL): a new inode to sync.
    unlinkSync(path);
    writeFileSync(path + ".new", "other");
    renameSync(path + ".new", path);
    expect(w.usable()).toBe(true);
    const second = w.committed();
    await tick();
    expect(r.inodes[1]).toBe(statSync(path).ino);
    expect(r.inodes[1]).not.toBe(r.inodes[0]);
    (await r.started(1)).release();
    await second;
  });

  test("the file replaced while a sync is due: not usable (FULL) rather than syncing the wrong inode", async () => {
    const path = wal();
    const r = recorder();
    const w = new WalSync(path, r.sync);
    expect(w.usable()).toBe(true);
    const done = w.committed();
    await tick();
    unlinkSync(path);
    writeFileSync(path, "other");
    expect(w.usable()).toBe(false);
    (await r.started(0)).release();
    await done;
  });

  test("the file changed between usable() and committed(): the commit fails and the WalSync stays failed", async () => {
    const path = wal();
    const w = new WalSync(path, recorder().sync);
    expect(w.usable()).toBe(true);
    unlinkSync(path);
    writeFileSync(path, "other");
    await expect(w.committed()).rejects.toThrow("changed");
    expect(w.usable()).toBe(false);
  });

  test("group commit: every commit made while a sync runs waits for the next one, and they share it", async () => {
    const path = wal();
    const r = recorder();
    const w = new WalSync(path, r.sync);
    w.usable();
    const order: string[] = [];
    const a = w.committed().then(() => order.push("a"));
    await tick();
    const rest = ["b", "c", "d"].map((name) => w.committed().then(() => order.push(name)));
    await tick();
    expect(r.inodes.length).toBe(1);
    (await r.started(0)).release();
    await a;
    await tick();
    expect(order).toEqual(["a"]);
    expect(r.inodes.length).toBe(2);
    (await r.started(1)).release();
    await Promise.all(rest);
    expect(order).toEqual(["a", "b", "c", "d"]);
    expect(r.inodes.length).toBe(2);
  });

  test("a failed sync fails its group and the one waiting behind it, and every later commit", async () => {
    const path = wal();
    const r = recorder();
    const w = new WalSync(path, r.sync);
    w.usable();
    const a = w.committed();
    await tick();
    const b = w.committed();
    const outcomes = Promise.allSettled([a, b]);
    (await r.started(0)).fail(new Error("EIO"));
    const [ra, rb] = await outcomes;
    expect(ra.status === "rejected" && String(ra.reason)).toContain("EIO");
    expect(rb.status === "rejected" && String(rb.reason)).toContain("EIO");
    expect(w.usable()).toBe(false);
    await expect(w.committed()).rejects.toThrow("EIO");
    expect(r.inodes.length).toBe(1);
  });
});
