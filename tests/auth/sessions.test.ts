/**
 * Login sessions: unguessable one-time ids stored only as hashes, expiry, consumption on
 * success, one indistinguishable answer for unknown, expired and consumed links, and the
 * admin operations (list, cancel, end).
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Sessions } from "../../src/auth/sessions.ts";
import { openDatabase, type Database } from "../../src/store/db.ts";
import { tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();

const TTL = 60_000;
/** Each start and redeem runs argon2id (hundreds of ms on a busy machine): room for a few. */
const SLOW = 30_000;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const sha256 = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");

let dir: string;
let dbPath: string;
let db: Database;
let now: number;
let sessions: Sessions;

beforeEach(() => {
  dir = tmp("sessions");
  dbPath = join(dir, "st2bot.sqlite");
  db = openDatabase(dbPath);
  now = 1_700_000_000_000;
  sessions = new Sessions(db, TTL, () => now);
});

afterEach(() => {
  db.close();
});

const diskBytes = () => ["", "-wal"].map((s) => { try { return readFileSync(dbPath + s).toString("latin1"); } catch { return ""; } }).join("");

describe("ids", () => {
  test("are random v4 UUIDs (122 random bits), different every time", async () => {
    const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => sessions.start(`memory:user${i}`, "word")));
    for (const id of ids) expect(id).toMatch(UUID_V4);
    expect(new Set(ids).size).toBe(ids.length);
    // Every random hex digit position varies across ids (none is a constant or a counter).
    const positions = ids[0]!.replace(/-/g, "").split("").map((_, i) => i).filter((i) => i !== 12 && i !== 16);
    const varying = positions.filter((i) => new Set(ids.map((id) => id.replace(/-/g, "")[i])).size > 1);
    expect(varying.length).toBeGreaterThan(positions.length - 3);
  }, SLOW);

  test("are stored only as SHA-256 hashes, and the shared word only as a password hash", async () => {
    const id = await sessions.start("memory:alice", "swordfish-shared-word");
    const row = db.query("SELECT * FROM sessions").get() as Record<string, unknown>;
    expect(row.id_hash).toBe(sha256(id));
    expect(String(row.secret_hash)).toStartWith("$argon2");
    expect(JSON.stringify(row)).not.toContain(id);
    expect(JSON.stringify(row)).not.toContain("swordfish-shared-word");
    expect(diskBytes()).not.toContain(id);
    expect(diskBytes()).not.toContain("swordfish-shared-word");
  });
});

describe("redeem", () => {
  test("accepts the right shared word, and the session is consumed only by finish()", async () => {
    const id = await sessions.start("memory:alice", "word");
    expect(sessions.isOpen(id)).toBe(true);
    const wrong = await sessions.redeem(id, "not the word");
    expect(wrong).toEqual({ ok: false, reason: "wrong-word" });
    expect(sessions.isOpen(id)).toBe(true);

    const first = await sessions.redeem(id, "word");
    if (!first.ok) throw new Error("expected the session to redeem");
    expect(first.chatUser).toBe("memory:alice");
    // Not finished (StackStorm refused the credentials, say): still usable.
    expect(sessions.isOpen(id)).toBe(true);
    first.finish();
    expect(sessions.isOpen(id)).toBe(false);
    expect(await sessions.redeem(id, "word")).toEqual({ ok: false, reason: "invalid" });
  }, SLOW);

  test("two logins racing on one link: only the first finish() consumes it", async () => {
    const id = await sessions.start("memory:alice", "word");
    const [a, b] = await Promise.all([sessions.redeem(id, "word"), sessions.redeem(id, "word")]);
    if (!a.ok || !b.ok) throw new Error("expected both to redeem before either finished");
    expect(a.finish()).toBe(true);
    expect(b.finish()).toBe(false);
    expect(sessions.isOpen(id)).toBe(false);
  }, SLOW);

  test("expires after the ttl", async () => {
    const id = await sessions.start("memory:alice", "word");
    now += TTL - 1;
    expect(sessions.isOpen(id)).toBe(true);
    now += 1;
    expect(sessions.isOpen(id)).toBe(false);
    expect(await sessions.redeem(id, "word")).toEqual({ ok: false, reason: "invalid" });
  }, SLOW);

  test("unknown, malformed, expired, consumed and burned ids all give the same answer, whatever the word", async () => {
    const expired = await sessions.start("memory:a", "word");
    const consumed = await sessions.start("memory:b", "word");
    const burned = await sessions.start("memory:c", "word");
    const r = await sessions.redeem(consumed, "word");
    if (r.ok) r.finish();
    sessions.burn(burned);
    now += TTL; // expires `expired` (the others are already closed)
    const ids = [crypto.randomUUID(), "not-a-uuid", expired, consumed, burned];
    for (const id of ids) {
      expect(sessions.isOpen(id)).toBe(false);
      expect(await sessions.redeem(id, "word")).toEqual({ ok: false, reason: "invalid" });
    }
    expect(await sessions.redeem(expired, "wrong")).toEqual({ ok: false, reason: "invalid" });
  }, SLOW);

  test("a new session for the same user replaces the open one", async () => {
    const old = await sessions.start("memory:alice", "word");
    const fresh = await sessions.start("memory:alice", "other");
    expect(sessions.isOpen(old)).toBe(false);
    expect(sessions.isOpen(fresh)).toBe(true);
    expect(sessions.list()).toHaveLength(1);
  }, SLOW);
});

describe("admin operations", () => {
  test("list shows who and a short ref, never the id", async () => {
    const id = await sessions.start("memory:alice", "word");
    await sessions.start("memory:bob", "word");
    const list = sessions.list();
    expect(list.map((s) => s.chatUser)).toEqual(["memory:alice", "memory:bob"]);
    expect(list[0]).toEqual({ chatUser: "memory:alice", createdAt: now, expiresAt: now + TTL, ref: sha256(id).slice(0, 8) });
    expect(JSON.stringify(list)).not.toContain(id);
  }, SLOW);

  test("cancel by chat user or by ref closes the session", async () => {
    const a = await sessions.start("memory:alice", "word");
    const b = await sessions.start("memory:bob", "word");
    expect(sessions.cancel("memory:alice")).toBe(1);
    expect(sessions.isOpen(a)).toBe(false);
    expect(sessions.cancel(sessions.list()[0]!.ref)).toBe(1);
    expect(sessions.isOpen(b)).toBe(false);
    expect(sessions.cancel("memory:nobody")).toBe(0);
    expect(sessions.list()).toEqual([]);
  }, SLOW);

  test("end removes every session of a user and no one else's", async () => {
    const a = await sessions.start("memory:alice", "word");
    const b = await sessions.start("memory:bob", "word");
    expect(sessions.end("memory:alice")).toBe(1);
    expect(sessions.isOpen(a)).toBe(false);
    expect(sessions.isOpen(b)).toBe(true);
  }, SLOW);
});
