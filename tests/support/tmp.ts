/**
 * Private temporary directories for a test file, removed after the file's tests: the one place
 * tests make scratch space (data directories, databases, config files, TLS material).
 */
import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Makes a directory `st2bot-<name>-XXXXXX` (mode 0700) and returns its path. */
export type TempDir = (name: string) => string;

/**
 * Call once at a test file's top level (or in a `describe`): returns a `TempDir` maker and
 * registers an `afterAll` that removes every directory it made.
 */
export function tempDirs(): TempDir {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made.splice(0)) removeTempDir(dir);
  });
  return (name) => {
    const dir = makeTempDir(name);
    made.push(dir);
    return dir;
  };
}

/**
 * Makes `st2bot-<name>-XXXXXX` (mode 0700) that the caller removes with `removeTempDir`: for
 * harnesses whose own `stop()` owns the directory (they may run in a hook, where `tempDirs`
 * cannot register its `afterAll`).
 */
export const makeTempDir: TempDir = (name) => mkdtempSync(join(tmpdir(), `st2bot-${name}-`));

/** Removes a directory and everything in it; no error when it is gone already. */
export const removeTempDir = (dir: string): void => rmSync(dir, { recursive: true, force: true });

/** A fresh database path, `st2bot.sqlite` in a new directory from `tmp`. */
export const tempDbPath = (tmp: TempDir, name = "db"): string => join(tmp(name), "st2bot.sqlite");
