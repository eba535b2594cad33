import { afterEach, describe, expect, test } from "bun:test";
import { MemoryBackend } from "../../src/chat/memory.ts";
import type { Outgoing, Target } from "../../src/chat/types.ts";
import { SendError } from "../../src/lib/errors.ts";
import { captureLogs } from "../../src/lib/log.ts";
import { type Database, openDatabase } from "../../src/store/db.ts";
import { outboxFixture } from "./outbox-fixture.ts";

const logLines: string[] = [];
captureLogs((line) => logLines.push(line));
afterEach(() => {
  logLines.length = 0;
});

const { cleanups, tempDb, newOutbox } = outboxFixture();

/** Records when each send was attempted, whatever its outcome. */
function recordAttempts(backend: MemoryBackend): number[] {
  const attempts: number[] = [];
  const send = backend.send.bind(backend);
  backend.send = (target: Target, msg: Outgoing) => {
    attempts.push(Date.now());
    return send(target, msg);
  };
  return attempts;
}

const rows = (db: Database) => (db.query("SELECT COUNT(*) AS n FROM outbox").get() as { n: number }).n;

describe("Outbox delivery", () => {
  test("delivers each target's messages in order and then deletes them", async () => {
    const { db } = tempDb();
    const backend = new MemoryBackend();
    const outbox = newOutbox(backend, {}, db);
    outbox.start();
    for (let i = 0; i < 50; i++) outbox.enqueue({ message: `m${i}`, channel: i % 2 ? "#odd" : "#even" }, "stream");
    expect(await outbox.drain(5000)).toBe(true);
    const to = (room: string) => backend.sent.filter((s) => s.target.id === room).map((s) => s.text);
    expect(to("odd")).toEqual(Array.from({ length: 25 }, (_, i) => `m${2 * i + 1}`));
    expect(to("even")).toEqual(Array.from({ length: 25 }, (_, i) => `m${2 * i}`));
    expect(rows(db)).toBe(0);
    expect(outbox.stats()).toEqual({ pending: 0, dead: 0, delivered: 50, failedAttempts: 0 });
  });

  test("the row exists before anything is sent", () => {
    const { db } = tempDb();
    const backend = new MemoryBackend();
    const outbox = newOutbox(backend, {}, db);
    outbox.start();
    const id = outbox.enqueue({ message: "hello", user: "alice" }, "webhook");
    const row = db.query("SELECT target_key, source, payload FROM outbox WHERE id = ?").get(id) as Record<string, string>;
    expect(row).toEqual({ target_key: "user:alice", source: "webhook", payload: JSON.stringify({ message: "hello", user: "alice" }) });
    expect(backend.sent).toHaveLength(0);
  });

  test("a hung target does not delay another; the hung send times out and is retried", async () => {
    const backend = new MemoryBackend();
    const outbox = newOutbox(backend, { sendTimeoutMs: 1000 });
    outbox.start();
    backend.failNext(1, { kind: "hang" });
    outbox.enqueue({ message: "stuck first", channel: "#slow" }, "stream");
    outbox.enqueue({ message: "stuck second", channel: "#slow" }, "stream");
    await Bun.sleep(20);
    const hungAt = Date.now();
    for (let i = 0; i < 10; i++) outbox.enqueue({ message: `fast ${i}`, channel: "#fast" }, "stream");
    while (backend.sent.length < 10 && Date.now() - hungAt < 5000) await Bun.sleep(5);
    // The other target finished while the hung send was still waiting for its timeout...
    expect(Date.now() - hungAt).toBeLessThan(1000);
    expect(backend.sent.map((s) => s.text)).toEqual(Array.from({ length: 10 }, (_, i) => `fast ${i}`));
    // ...and the hung target keeps its order: its second message waits behind the first.
    expect(await outbox.drain(5000)).toBe(true);
    expect(backend.sent.filter((s) => s.target.id === "slow").map((s) => s.text)).toEqual(["stuck first", "stuck second"]);
    expect(outbox.stats().failedAttempts).toBe(1);
  });

  test("retries failed sends with a growing backoff", async () => {
    const backend = new MemoryBackend();
    const attempts = recordAttempts(backend);
    const outbox = newOutbox(backend);
    outbox.start();
    backend.failNext(3);
    outbox.enqueue({ message: "eventually", channel: "#ops" }, "stream");
    expect(await outbox.drain(5000)).toBe(true);
    expect(backend.sent.map((s) => s.text)).toEqual(["eventually"]);
    expect(attempts).toHaveLength(4);
    // initial 20 ms × 1.75 per failure (jitter pinned to the top of its range).
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    [20, 35, 61].forEach((min, i) => expect(gaps[i]!).toBeGreaterThanOrEqual(min - 2));
    expect(outbox.stats().failedAttempts).toBe(3);
  });

  test("waits out a Retry-After exactly and does not count it as a failure", async () => {
    const backend = new MemoryBackend();
    const attempts = recordAttempts(backend);
    const outbox = newOutbox(backend);
    outbox.start();
    backend.failNext(1, { kind: "error", retryable: true, retryAfterMs: 250 });
    outbox.enqueue({ message: "after the limit", channel: "#ops" }, "stream");
    expect(await outbox.drain(5000)).toBe(true);
    expect(attempts).toHaveLength(2);
    expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(248);
    expect(outbox.stats().failedAttempts).toBe(0);
  });

  test("a message failing past the deadline is dead, kept, logged, and replayable", async () => {
    const { db } = tempDb();
    const backend = new MemoryBackend();
    const dead: Array<[number, string]> = [];
    const outbox = newOutbox(backend, { deadAfterMs: 150, onDead: (id, reason) => dead.push([id, reason]) }, db);
    outbox.start();
    backend.failFor(60_000);
    const id = outbox.enqueue({ message: "doomed", channel: "#ops" }, "stream");
    expect(await outbox.drain(5000)).toBe(true);
    expect(dead).toHaveLength(1);
    expect(dead[0]![0]).toBe(id);
    expect(dead[0]![1]).toContain("memory backend is failing");
    expect(outbox.stats()).toMatchObject({ pending: 0, dead: 1, delivered: 0 });
    const [listed] = outbox.listDead(10);
    expect(listed).toMatchObject({ id, targetKey: "channel:#ops", source: "stream", announcement: { message: "doomed", channel: "#ops" } });
    expect(listed!.attempts).toBeGreaterThan(1);
    expect(logLines.some((l) => l.includes("ERROR") && l.includes("MESSAGE NOT DELIVERED"))).toBe(true);
    expect(rows(db)).toBe(1);

    backend.failFor(0);
    expect(outbox.replay(id)).toBe(1);
    expect(await outbox.drain(5000)).toBe(true);
    expect(backend.sent.map((s) => s.text)).toEqual(["doomed"]);
    expect(outbox.stats()).toMatchObject({ pending: 0, dead: 0, delivered: 1 });
    expect(rows(db)).toBe(0);
  });

  test("an unknown target is dead at once, and other targets go on", async () => {
    const backend = new MemoryBackend({ rooms: ["ops"], users: ["alice"] });
    const attempts = recordAttempts(backend);
    const dead: string[] = [];
    const outbox = newOutbox(backend, { onDead: (_, reason) => dead.push(reason) });
    outbox.start();
    const bad = outbox.enqueue({ message: "nowhere", channel: "#nope" }, "stream");
    outbox.enqueue({ message: "somewhere", channel: "#ops" }, "stream");
    expect(await outbox.drain(5000)).toBe(true);
    expect(dead).toEqual([`no channel "#nope" on memory`]);
    expect(attempts).toHaveLength(1);
    expect(backend.sent.map((s) => s.text)).toEqual(["somewhere"]);
    expect(outbox.listDead(10).map((d) => [d.id, d.attempts, d.lastError])).toEqual([[bad, 0, `no channel "#nope" on memory`]]);
  });

  test("an announcement with neither channel nor user is stored dead, never dropped", async () => {
    const backend = new MemoryBackend();
    const dead: string[] = [];
    const outbox = newOutbox(backend, { onDead: (_, reason) => dead.push(reason) });
    outbox.start();
    const id = outbox.enqueue({ message: "to whom?" }, "stream");
    expect(dead).toEqual(["the announcement names neither a channel nor a user"]);
    expect(outbox.listDead(1)[0]).toMatchObject({ id, targetKey: "none:" });
    expect(outbox.replay("all")).toBe(0);
    expect(await outbox.drain(1000)).toBe(true);
    expect(backend.sent).toHaveLength(0);
  });

  test("replay('all') brings back every dead message", async () => {
    const backend = new MemoryBackend({ rooms: ["ops"] });
    const outbox = newOutbox(backend);
    outbox.start();
    outbox.enqueue({ message: "one", channel: "#later" }, "stream");
    outbox.enqueue({ message: "two", channel: "#later" }, "stream");
    expect(await outbox.drain(5000)).toBe(true);
    expect(outbox.stats().dead).toBe(2);
    (backend as unknown as { opts: { rooms?: string[] } }).opts.rooms = undefined;
    expect(outbox.replay("all")).toBe(2);
    expect(await outbox.drain(5000)).toBe(true);
    expect(backend.sent.map((s) => s.text)).toEqual(["one", "two"]);
  });
});

describe("Outbox durability", () => {
  test("rows left by a previous run are delivered in order by the next one", async () => {
    const { path, db } = tempDb();
    const first = newOutbox(new MemoryBackend(), {}, db);
    // Never started: as if the process died right after accepting them.
    for (let i = 0; i < 20; i++) first.enqueue({ message: `m${i}`, channel: "#ops" }, "stream");
    db.close();

    const reopened = openDatabase(path);
    cleanups.push(() => reopened.close());
    const backend = new MemoryBackend();
    const second = newOutbox(backend, {}, reopened);
    second.start();
    expect(await second.drain(5000)).toBe(true);
    expect(backend.sent.map((s) => s.text)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    expect(rows(reopened)).toBe(0);
  });

  test("a split message is sent part by part and a retry does not repeat parts", async () => {
    const backend = new MemoryBackend({ maxMessageLength: 10 });
    let calls = 0;
    const send = backend.send.bind(backend);
    backend.send = (target, msg) => (++calls === 2 ? Promise.reject(new SendError("flaky", true)) : send(target, msg));
    const outbox = newOutbox(backend);
    outbox.start();
    outbox.enqueue({ message: "aaaa\nbbbb\ncccc", channel: "#ops", extra: { color: "red" } }, "stream");
    expect(await outbox.drain(5000)).toBe(true);
    expect(backend.sent.map((s) => s.text)).toEqual(["aaaa\nbbbb", "cccc"]);
    // Rich formatting travels once, with the first part.
    expect(backend.sent.map((s) => s.extra)).toEqual([{ color: "red" }, undefined]);
  });

  test("part progress survives a restart", async () => {
    const { path, db } = tempDb();
    const slow = new MemoryBackend({ maxMessageLength: 5 });
    let calls = 0;
    const send = slow.send.bind(slow);
    slow.send = (target, msg) => (++calls >= 3 ? new Promise(() => {}) : send(target, msg));
    const first = newOutbox(slow, {}, db);
    first.start();
    first.enqueue({ message: "one\ntwo\nthree\nfour", channel: "#ops" }, "stream");
    while (slow.sent.length < 2) await Bun.sleep(5);
    await Bun.sleep(10);
    db.close();

    const reopened = openDatabase(path);
    cleanups.push(() => reopened.close());
    const backend = new MemoryBackend({ maxMessageLength: 5 });
    const second = newOutbox(backend, {}, reopened);
    second.start();
    expect(await second.drain(5000)).toBe(true);
    expect(slow.sent.map((s) => s.text)).toEqual(["one", "two"]);
    expect(backend.sent.map((s) => s.text)).toEqual(["three", "four"]);
  });

  test("each part carries an id stable across retries and restarts, distinct per part and per message", async () => {
    const { path, db } = tempDb();
    type Seen = { text: string; id?: string };
    /** Records every attempt's text and id; `ok(seen)` says whether the attempt just recorded succeeds. */
    const recording = (b: MemoryBackend, ok: (seen: Seen[]) => boolean) => {
      const seen: Seen[] = [];
      const send = b.send.bind(b);
      b.send = (target, msg) => {
        seen.push({ text: msg.text, id: msg.id });
        return ok(seen) ? send(target, msg) : Promise.reject(new SendError("down", true));
      };
      return seen;
    };
    const failing = new MemoryBackend({ maxMessageLength: 5 });
    // "one" fails once and is confirmed on the retry; every later attempt fails until the restart.
    const before = recording(failing, (seen) => seen.at(-1)!.text === "one" && seen.filter((x) => x.text === "one").length === 2);
    const first = newOutbox(failing, {}, db);
    first.start();
    first.enqueue({ message: "one\ntwo", channel: "#ops" }, "stream");
    first.enqueue({ message: "six", channel: "#other" }, "stream");
    while (before.filter((x) => x.text === "two").length < 2 || !before.some((x) => x.text === "six")) await Bun.sleep(5);
    db.close();
    const reopened = openDatabase(path);
    cleanups.push(() => reopened.close());
    const backend = new MemoryBackend({ maxMessageLength: 5 });
    const after = recording(backend, () => true);
    const second = newOutbox(backend, {}, reopened);
    second.start();
    expect(await second.drain(5000)).toBe(true);
    const idsOf = (text: string, ...lists: Seen[][]) => [...new Set(lists.flat().filter((x) => x.text === text).map((x) => x.id))];
    expect(idsOf("one", before)).toHaveLength(1); // the retry kept the id
    expect(idsOf("two", before, after)).toHaveLength(1); // so did retries across the restart
    expect(idsOf("six", before, after)).toHaveLength(1);
    const distinct = new Set([idsOf("one", before)[0], idsOf("two", after)[0], idsOf("six", after)[0]]);
    expect(distinct.size).toBe(3);
    expect([...distinct].every((id) => typeof id === "string" && id.length > 0)).toBe(true);
  });
});

describe("Outbox batching for the stream", () => {
  test("enqueueSoon stores a turn's announcements together, before any is sent, and keeps their order", async () => {
    const { db } = tempDb();
    const backend = new MemoryBackend();
    const outbox = newOutbox(backend, {}, db);
    outbox.start();
    for (let i = 0; i < 5; i++) outbox.enqueueSoon({ message: `soon ${i}`, channel: "#ops" }, "stream");
    expect(rows(db)).toBe(0);
    expect(backend.sent.length).toBe(0);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(rows(db) + backend.sent.length).toBeGreaterThanOrEqual(5);
    expect(await outbox.drain(2000)).toBe(true);
    expect(backend.sent.map((m) => m.text)).toEqual(["soon 0", "soon 1", "soon 2", "soon 3", "soon 4"]);
    expect(rows(db)).toBe(0);
  });

  test("a batch the database refuses is kept and stored on a retry, not lost and no crash", async () => {
    const { db } = tempDb();
    const backend = new MemoryBackend();
    const outbox = newOutbox(backend, {}, db);
    outbox.start();
    db.exec("CREATE TRIGGER refuse BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    outbox.enqueueSoon({ message: "kept", channel: "#ops" }, "stream");
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(rows(db)).toBe(0);
    expect(backend.sent.length).toBe(0);
    expect(logLines.some((l) => l.includes("could not store announcements") && l.includes("disk full"))).toBe(true);
    db.exec("DROP TRIGGER refuse");
    await Bun.sleep(1200);
    expect(await outbox.drain(2000)).toBe(true);
    expect(backend.sent.map((m) => m.text)).toEqual(["kept"]);
  });

  test("stop() stores what is still waiting for the end of the turn", async () => {
    const { db } = tempDb();
    const outbox = newOutbox(new MemoryBackend(), {}, db);
    outbox.enqueueSoon({ message: "late", channel: "#ops" }, "stream");
    await outbox.stop();
    expect(rows(db)).toBe(1);
  });
});
