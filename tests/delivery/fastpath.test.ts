/**
 * A message stored while its target's lane is idle is sent in the same call that stored it
 * (lanes.ts `push(entry, true)`), without a timer when the backend confirms at once (`DONE`).
 * What must hold all the same: on disk before it is sent, order per target, deleted only after
 * the confirmation, a failed send retried, rate limits honoured.
 */
import { afterEach, expect, test } from "bun:test";
import type { ChatBackend, Outgoing, Target } from "../../src/chat/types.ts";
import type { Rate } from "../../src/lib/rate.ts";
import { Outbox } from "../../src/delivery/outbox.ts";
import { SendError } from "../../src/lib/errors.ts";
import { DONE } from "../../src/lib/timeout.ts";
import { type Database, openDatabase } from "../../src/store/db.ts";
import { tempDbPath, tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/**
 * A backend whose `send` answers as told: `"done"` confirms before it returns (`DONE`), `"later"`
 * confirms in a microtask, `"hold"` waits until the test settles it, `"throw"` throws at once,
 * `"reject"` rejects (retryable). Records every call, with the rows stored at that moment.
 */
class ScriptedBackend implements ChatBackend {
  readonly name = "scripted";
  readonly maxMessageLength = 1000;
  readonly calls: { text: string; rows: number; stored: boolean }[] = [];
  readonly sent: string[] = [];
  readonly held: Array<(err?: Error) => void> = [];
  mode: "done" | "later" | "hold" | "throw" | "reject" = "done";
  db?: Database;
  sendRate?: Rate;

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  status() {
    return { state: "connected" as const, since: 0 };
  }
  botNames(): string[] {
    return [];
  }
  async resolve(kind: "user" | "channel", value: string): Promise<Target> {
    return kind === "user" ? { kind: "user", id: value } : { kind: "room", id: value };
  }
  replyTarget(): Target {
    return { kind: "room", id: "x" };
  }
  sourceChannel(): string {
    return "#x";
  }

  send(_target: Target, msg: Outgoing): Promise<void> {
    const stored = (this.db!.query("SELECT COUNT(*) AS n FROM outbox WHERE payload LIKE ?").get(`%${JSON.stringify(msg.text).slice(1, -1)}%`) as { n: number }).n;
    this.calls.push({ text: msg.text, rows: rows(this.db!), stored: stored === 1 });
    switch (this.mode) {
      case "done":
        this.sent.push(msg.text);
        return DONE;
      case "later":
        return Promise.resolve().then(() => void this.sent.push(msg.text));
      case "hold":
        return new Promise((resolve, reject) =>
          this.held.push((err) => {
            if (err) return reject(err);
            this.sent.push(msg.text);
            resolve();
          }),
        );
      case "throw":
        throw new SendError("the service is down", true);
      case "reject":
        return Promise.reject(new SendError("the service is down", true));
    }
  }
}

const rows = (db: Database) => (db.query("SELECT COUNT(*) AS n FROM outbox").get() as { n: number }).n;

function setup(sendRate?: Rate) {
  // As st2bot opens it: held alone (store/db.ts `holdAlone`).
  const db = openDatabase(tempDbPath(tmp, "fast"), { alone: true });
  const backend = new ScriptedBackend();
  backend.db = db;
  backend.sendRate = sendRate;
  const outbox = new Outbox({ db, backend, deadAfterMs: 60_000, maxRetryDelayMs: 30, initialRetryDelayMs: 10, random: () => 1, stopGraceMs: 50 });
  cleanups.push(() => db.close());
  cleanups.push(() => outbox.stop());
  return { db, backend, outbox };
}

/** One message through, so the target is cached (a first send resolves it: never in the same call). */
async function warm(backend: ScriptedBackend, outbox: Outbox): Promise<void> {
  outbox.enqueue({ message: "warm", channel: "#ops" }, "bot");
  expect(await outbox.drain(2000)).toBe(true);
  backend.calls.length = 0;
  backend.sent.length = 0;
}

test("on an idle lane a stored message is sent before enqueue returns, after its row was stored; the row goes once confirmed", async () => {
  const { db, backend, outbox } = setup();
  outbox.start();
  await warm(backend, outbox);
  outbox.enqueue({ message: "ack", channel: "#ops" }, "bot");
  // Sent in the same call, and the row was on disk when it was.
  expect(backend.sent).toEqual(["ack"]);
  expect(backend.calls).toEqual([{ text: "ack", rows: 1, stored: true }]);
  expect(rows(db)).toBe(1);
  expect(await outbox.drain(2000)).toBe(true);
  expect(rows(db)).toBe(0);
  expect(outbox.stats()).toMatchObject({ pending: 0, delivered: 2 });
});

test("messages stored while a fast send is in flight wait behind it, in order; nothing is deleted before its confirmation", async () => {
  const { db, backend, outbox } = setup();
  outbox.start();
  await warm(backend, outbox);
  backend.mode = "hold";
  outbox.enqueue({ message: "a", channel: "#ops" }, "bot");
  backend.mode = "done";
  outbox.enqueue({ message: "b", channel: "#ops" }, "bot");
  outbox.enqueue({ message: "c", channel: "#other" }, "bot");
  await new Promise((resolve) => setTimeout(resolve, 20));
  // "b" waits for "a" (same target); "c" (another target) does not.
  expect(backend.calls.map((c) => c.text)).toEqual(["a", "c"]);
  expect(rows(db)).toBe(2);
  backend.held.shift()!();
  expect(await outbox.drain(2000)).toBe(true);
  expect(backend.calls.map((c) => c.text)).toEqual(["a", "c", "b"]);
  expect(backend.sent).toEqual(["c", "a", "b"]);
  expect(rows(db)).toBe(0);
});

test("a fast send confirmed at once, then more in the same turn: they follow in order", async () => {
  const { backend, outbox } = setup();
  outbox.start();
  await warm(backend, outbox);
  for (const m of ["1", "2", "3", "4"]) outbox.enqueue({ message: m, channel: "#ops" }, "bot");
  expect(backend.sent).toEqual(["1"]);
  expect(await outbox.drain(2000)).toBe(true);
  expect(backend.sent).toEqual(["1", "2", "3", "4"]);
});

for (const mode of ["throw", "reject", "hold-fail"] as const) {
  test(`a failed fast send (${mode}) leaves its message in the outbox, ahead of later ones; it is retried and delivered`, async () => {
    const { db, backend, outbox } = setup();
    outbox.start();
    await warm(backend, outbox);
    backend.mode = mode === "hold-fail" ? "hold" : mode;
    outbox.enqueue({ message: "first", channel: "#ops" }, "bot");
    if (mode === "hold-fail") {
      backend.held.shift()!(new SendError("the service is down", true));
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    backend.mode = "done";
    outbox.enqueue({ message: "second", channel: "#ops" }, "bot");
    // Failed and waiting for its retry: still on disk, and "second" did not overtake it.
    expect(rows(db)).toBe(2);
    expect(backend.sent).toEqual([]);
    expect(await outbox.drain(2000)).toBe(true);
    expect(backend.sent).toEqual(["first", "second"]);
    expect(rows(db)).toBe(0);
    expect(outbox.stats()).toMatchObject({ pending: 0, dead: 0, failedAttempts: 1 });
  });
}

test("the fast path takes a rate token: with none left the message waits its turn", async () => {
  const { backend, outbox } = setup({ perSecond: 20, burst: 1 });
  outbox.start();
  await warm(backend, outbox);
  const started = Date.now();
  outbox.enqueue({ message: "x", channel: "#ops" }, "bot");
  // The warm-up took the only token just now: not sent in this call.
  expect(backend.sent).toEqual([]);
  expect(await outbox.drain(2000)).toBe(true);
  outbox.enqueue({ message: "y", channel: "#ops" }, "bot");
  expect(backend.sent).toEqual(["x"]);
  expect(await outbox.drain(2000)).toBe(true);
  expect(backend.sent).toEqual(["x", "y"]);
  expect(Date.now() - started).toBeGreaterThanOrEqual(2 * 50 - 10);
});

test("a backend confirming in a microtask: sent in the same call, confirmed after it; order kept", async () => {
  const { db, backend, outbox } = setup();
  outbox.start();
  await warm(backend, outbox);
  backend.mode = "later";
  outbox.enqueue({ message: "p", channel: "#ops" }, "bot");
  outbox.enqueue({ message: "q", channel: "#ops" }, "bot");
  expect(backend.calls.map((c) => c.text)).toEqual(["p"]);
  expect(await outbox.drain(2000)).toBe(true);
  expect(backend.sent).toEqual(["p", "q"]);
  expect(rows(db)).toBe(0);
});
