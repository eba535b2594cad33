/**
 * The outbox tests' fixture: outboxes on temporary databases (on disk, WAL, as st2bot opens
 * them), stopped and closed after each test. Call `outboxFixture()` once at a test file's top level.
 */
import { afterEach } from "bun:test";
import type { MemoryBackend } from "../../src/chat/memory.ts";
import { Outbox, type OutboxOptions } from "../../src/delivery/outbox.ts";
import { type Database, openDatabase } from "../../src/store/db.ts";
import { tempDbPath, tempDirs } from "../support/tmp.ts";

/** Registers the clean-up after each test; returns the makers and the clean-up list for extra closes. */
export function outboxFixture() {
  const tmp = tempDirs();
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  /** A new database file, closed after the test. */
  function tempDb(): { path: string; db: Database } {
    const path = tempDbPath(tmp, "outbox");
    const db = openDatabase(path);
    cleanups.push(() => db.close());
    return { path, db };
  }

  /** An outbox with short test timings (overridden by `extra`), stopped after the test. */
  function newOutbox(backend: MemoryBackend, extra: Partial<OutboxOptions> = {}, db = tempDb().db): Outbox {
    const outbox = new Outbox({
      db,
      backend,
      deadAfterMs: 60_000,
      maxRetryDelayMs: 200,
      initialRetryDelayMs: 20,
      random: () => 1,
      stopGraceMs: 50,
      ...extra,
    });
    cleanups.push(() => outbox.stop());
    return outbox;
  }

  return { cleanups, tempDb, newOutbox };
}
