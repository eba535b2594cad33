/**
 * Group commit off the main thread: the outbox's accepting writes commit at
 * `synchronous = NORMAL` (the WAL frames reach the kernel with write(2), no fsync), then this
 * fsyncs the `-wal` file on the thread pool; only when that returned is the batch handed to
 * delivery (or the webhook answered). The main thread never waits for the disk.
 *
 * Why this is as durable as a FULL commit (which fsyncs the same file inside COMMIT):
 * - Linux fsync(fd) writes back every dirty page of the fd's inode and its metadata, whichever
 *   fd wrote them: our own read-only fd on `<db>-wal` covers SQLite's writes to that inode.
 *   The inode is checked (stat of the path against fstat of our fd) right after each commit, in
 *   the same synchronous turn, so the frames just written are known to be in the inode we sync.
 * - After a power loss SQLite's WAL recovery reads the header and then frames in order while
 *   their cumulative checksums (salted by the header) hold, up to the last commit frame: every
 *   byte of the file up to our commit frame is on disk after the fsync, so our transaction is
 *   recovered, exactly as after a FULL commit.
 * - A new WAL file's directory entry: SQLite (unix VFS, UNIXFILE_DIRSYNC) fsyncs the directory
 *   on the first sync of a WAL it created; we fsync the directory once per WAL inode we open.
 * - A checkpoint between our commit and our fsync (the idle one in checkpoint.ts, or SQLite's
 *   auto-checkpoint inside a later commit): with synchronous=NORMAL SQLite syncs the WAL before
 *   it copies frames and the database file after a completed checkpoint (sqlite.org/pragma.html
 *   #pragma_synchronous), and resets/restarts or truncates the WAL (journal_size_limit,
 *   wal_checkpoint(TRUNCATE), the last connection's close) only after every frame was copied and
 *   the database file synced. So frames a checkpoint overwrote or cut are already durable in
 *   the main file, and frames it did not are still in our inode: the fsync is then merely
 *   redundant, never insufficient.
 * - One fsync covers every commit made before it started (group commit); a commit made while
 *   one runs waits for the next.
 * - A failed fsync: Linux may have marked the failed pages clean, so no later fsync can vouch for
 *   anything written before it. Every commit not yet confirmed fails with it (the caller undoes
 *   and reports them, as a failed FULL commit would have), and this stays failed for good: every
 *   later write takes the FULL commit path. Anything unexpected (no WAL file, its inode changed
 *   while a sync is due) also makes the caller use the FULL path.
 */
import { closeSync, fstatSync, fsync, open, close, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { logger } from "../lib/log.ts";

const log = logger("delivery.outbox");

/** Flushes an open file to the disk (fsync(2) on the thread pool); the seam tests slow or fail. */
export type SyncFile = (fd: number) => Promise<void>;

/** fsync(2) through node:fs's callback API: Bun runs it on its thread pool, not the event loop. */
export const fsyncFile: SyncFile = (fd) => new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));

interface Group {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** The `-wal` file of one database, fsynced for groups of commits (see the file comment). */
export class WalSync {
  private fd: number | undefined;
  private ino = -1;
  private dev = -1;
  /** The directory still needs its fsync for the inode `fd` is open on. */
  private dirPending = false;
  private running = false;
  /** Commits waiting for the next fsync (made after the running one started). */
  private next: Group | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly walPath: string,
    private readonly syncFile: SyncFile = fsyncFile,
  ) {}

  /**
   * Whether a commit made now at NORMAL can be made durable by `committed()`: the WAL file
   * exists and our fd is on its inode (reopened when it changed and no sync is due). False →
   * commit with synchronous=FULL instead.
   */
  usable(): boolean {
    if (this.failure) return false;
    try {
      if (this.current()) return true;
      if (this.running || this.next) return false;
      this.reopen();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Call right after a NORMAL commit, in the same turn. Resolves once an fsync of the WAL that
   * began after this call returned; rejects when it failed (or the WAL is no longer the file the
   * commit wrote to), and from then on `usable()` says false.
   */
  committed(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    let same = false;
    try {
      same = this.current();
    } catch {
      // Treated below as the unexpected case it is.
    }
    if (!same) {
      this.fail(new Error("the database's write-ahead log changed under the commit; its fsync cannot be confirmed"));
      return Promise.reject(this.failure!);
    }
    if (!this.next) {
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      this.next = { promise, resolve, reject };
    }
    const group = this.next;
    if (!this.running) this.startNext();
    return group.promise;
  }

  /** Closes the file (the database is closing). Waiters still pending keep their outcome. */
  close(): void {
    if (this.fd !== undefined && !this.running) closeSync(this.fd);
    if (!this.running) this.fd = undefined;
  }

  private startNext(): void {
    const group = this.next;
    if (!group) return;
    this.next = undefined;
    this.running = true;
    this.flush().then(
      () => {
        this.running = false;
        group.resolve();
        if (this.failure) this.next?.reject(this.failure);
        else this.startNext();
      },
      (err: unknown) => {
        this.running = false;
        this.fail(err instanceof Error ? err : new Error(String(err)));
        group.reject(this.failure!);
      },
    );
  }

  private async flush(): Promise<void> {
    const fd = this.fd!;
    if (this.dirPending) {
      await syncDirectory(dirname(this.walPath));
      this.dirPending = false;
    }
    await this.syncFile(fd);
  }

  /** Fails for good: whoever waits for the next fsync hears it (see the file comment). */
  private fail(err: Error): void {
    if (!this.failure) log.error("the write-ahead log could not be synced to disk; every later write commits with synchronous=FULL", { error: String(err) });
    this.failure ??= err;
    const waiting = this.next;
    this.next = undefined;
    waiting?.reject(this.failure);
  }

  /** Whether our fd is open on the inode the WAL's path names now (throws when there is none). */
  private current(): boolean {
    const st = statSync(this.walPath);
    return this.fd !== undefined && st.ino === this.ino && st.dev === this.dev;
  }

  private reopen(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    const fd = openSync(this.walPath, "r");
    const st = fstatSync(fd);
    this.fd = fd;
    this.ino = st.ino;
    this.dev = st.dev;
    this.dirPending = true;
  }
}

/** fsyncs a directory (its entries: a new WAL file's name), on the thread pool. */
function syncDirectory(dir: string): Promise<void> {
  return new Promise<number>((resolve, reject) => open(dir, "r", (err, fd) => (err ? reject(err) : resolve(fd)))).then((fd) =>
    fsyncFile(fd).finally(() => close(fd, () => {})),
  );
}
