/**
 * Delivery through a backend that confirms many messages at once (`ChatBackend.sendMany`, the
 * terminal's one write of many lines): order kept, nothing deleted before its batch was
 * confirmed, a failed batch leaves all of its messages in the outbox, rates and threads honoured.
 */
import { afterEach, expect, test } from "bun:test";
import { MemoryBackend, type MemoryBackendOptions } from "../../src/chat/memory.ts";
import type { Outgoing, Target } from "../../src/chat/types.ts";
import { Outbox, type OutboxOptions } from "../../src/delivery/outbox.ts";
import { runsOf } from "../../src/delivery/outbox-table.ts";
import { SendError } from "../../src/lib/errors.ts";
import { type Database, openDatabase } from "../../src/store/db.ts";
import { tempDbPath, tempDirs } from "../support/tmp.ts";

const tmp = tempDirs();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/**
 * The memory backend plus `sendMany`: every batch is recorded; `hold()` keeps the next batch
 * unconfirmed until the returned function settles it (with an error or not); a batch holding a
 * text in `refused` is refused as a whole, like `send` refuses that text alone.
 */
class BatchBackend extends MemoryBackend {
  readonly batches: { target: Target; texts: string[] }[] = [];
  readonly refused = new Set<string>();
  private held: Array<(settle: (err?: Error) => void) => void> = [];

  constructor(opts: MemoryBackendOptions = {}) {
    super(opts);
  }

  hold(): Promise<(err?: Error) => void> {
    return new Promise((resolve) => this.held.push(resolve));
  }

  override async send(target: Target, msg: Outgoing): Promise<void> {
    if (this.refused.has(msg.text)) throw new SendError(`refused: ${msg.text}`, false);
    return super.send(target, msg);
  }

  async sendMany(target: Target, msgs: Outgoing[]): Promise<void> {
    this.batches.push({ target, texts: msgs.map((m) => m.text) });
    const holder = this.held.shift();
    if (holder) {
      const err = await new Promise<Error | undefined>((resolve) => holder(resolve));
      if (err) throw err;
    }
    if (msgs.some((m) => this.refused.has(m.text))) throw new SendError("refused: one of the batch", false);
    for (const msg of msgs) this.sent.push({ target, text: msg.text, extra: msg.extra, at: Date.now() });
  }
}

function setup(backendOpts: MemoryBackendOptions = {}, extra: Partial<OutboxOptions> = {}) {
  // As st2bot opens it: held alone (store/db.ts `holdAlone`).
  const db = openDatabase(tempDbPath(tmp, "batch"), { alone: true });
  const backend = new BatchBackend(backendOpts);
  const outbox = new Outbox({ db, backend, deadAfterMs: 60_000, maxRetryDelayMs: 100, initialRetryDelayMs: 10, random: () => 1, stopGraceMs: 50, ...extra });
  cleanups.push(() => db.close());
  cleanups.push(() => outbox.stop());
  return { db, backend, outbox };
}

const rows = (db: Database) => (db.query("SELECT COUNT(*) AS n FROM outbox").get() as { n: number }).n;
const texts = (n: number, stem = "m") => Array.from({ length: n }, (_, i) => `${stem}${i}`);
const settled = () => new Promise((resolve) => setTimeout(resolve, 20));

test("a burst goes out in batches, in order; each row is deleted once its batch was confirmed", async () => {
  const { db, backend, outbox } = setup();
  outbox.start();
  for (const m of texts(300)) outbox.enqueueSoon({ message: m, channel: "#burst" }, "stream");
  // One durable commit at the end of this turn, then delivery.
  await new Promise((resolve) => setImmediate(resolve));
  expect(await outbox.drain(5000)).toBe(true);
  expect(backend.sent.map((s) => s.text)).toEqual(texts(300));
  expect(backend.batches.length).toBeLessThan(30);
  expect(Math.max(...backend.batches.map((b) => b.texts.length))).toBeLessThanOrEqual(64);
  expect(rows(db)).toBe(0);
  expect(outbox.stats()).toEqual({ pending: 0, dead: 0, delivered: 300, failedAttempts: 0 });
});

test("a failed batch leaves every one of its messages in the outbox; all are delivered later, in order", async () => {
  const { db, backend, outbox } = setup({}, { initialRetryDelayMs: 300, maxRetryDelayMs: 300 });
  const first = backend.hold();
  // Stored before delivery starts, so all of them queue (an idle lane sends a new message alone).
  for (const m of texts(40)) outbox.enqueue({ message: m, channel: "#ops" }, "stream");
  outbox.start();
  const settle = await first;
  // In flight and not confirmed: nothing may leave the table.
  await settled();
  expect(backend.batches).toHaveLength(1);
  expect(rows(db)).toBe(40);
  settle(new SendError("the output is closed", true));
  // Failed, waiting for its retry: still every one of them on disk.
  await settled();
  expect(rows(db)).toBe(40);
  expect(await outbox.drain(5000)).toBe(true);
  // Each message once: the failed batch confirmed none, so none was recorded as sent by it.
  expect(backend.sent.map((s) => s.text)).toEqual(texts(40));
  expect(rows(db)).toBe(0);
  expect(outbox.stats()).toMatchObject({ pending: 0, dead: 0, delivered: 40, failedAttempts: 1 });
});

test("a refused batch: one at a time, the refused message is dead and the others delivered in order", async () => {
  const { backend, outbox } = setup();
  backend.refused.add("m5");
  const dead: string[] = [];
  const first = backend.hold();
  for (const m of texts(12)) outbox.enqueue({ message: m, channel: "#ops" }, "stream");
  outbox.start();
  (await first)();
  expect(await outbox.drain(5000)).toBe(true);
  expect(backend.sent.map((s) => s.text)).toEqual(texts(12).filter((m) => m !== "m5"));
  expect(outbox.listDead(10).map((d) => [d.announcement?.message, d.lastError])).toEqual([["m5", "refused: m5"]]);
  void dead;
  // After the refused batch, its messages went one at a time; batches resumed after them.
  expect(backend.batches[0]!.texts).toEqual(texts(12));
});

test("a message replayed while a batch is in flight is queued behind the batch, never inside it", async () => {
  const { db, backend, outbox } = setup();
  backend.refused.add("early");
  outbox.start();
  const early = outbox.enqueue({ message: "early", channel: "#ops" }, "stream");
  expect(await outbox.drain(5000)).toBe(true);
  expect(outbox.stats().dead).toBe(1);
  backend.refused.clear();
  const held = backend.hold();
  for (const m of texts(5)) outbox.enqueue({ message: m, channel: "#ops" }, "stream");
  const settle = await held;
  // A lower id than every message in flight: it must wait for them, not slip in among them.
  expect(outbox.replay(early)).toBe(1);
  settle();
  expect(await outbox.drain(5000)).toBe(true);
  expect(backend.sent.map((s) => s.text)).toEqual([...texts(5), "early"]);
  expect(rows(db)).toBe(0);
});

test("a batch takes no more messages than the target's rate allows", async () => {
  const { backend, outbox } = setup({ sendRate: { perSecond: 40, burst: 5 } });
  const started = Date.now();
  for (const m of texts(12)) outbox.enqueue({ message: m, channel: "#ops" }, "stream");
  outbox.start();
  expect(await outbox.drain(5000)).toBe(true);
  expect(backend.sent.map((s) => s.text)).toEqual(texts(12));
  expect(backend.batches[0]!.texts).toEqual(texts(5));
  // 5 at once, then 7 more at 40 per second.
  expect(Date.now() - started).toBeGreaterThanOrEqual(7 * 25 - 10);
});

test("messages for different threads of one room are never in one batch", async () => {
  const { backend, outbox } = setup();
  outbox.start();
  const held = backend.hold();
  const say = (message: string, thread?: string) => outbox.enqueue({ message, channel: "#ops", context: thread ? { thread } : undefined }, "stream");
  say("a1", "A");
  say("a2", "A");
  say("b1", "B");
  say("a3", "A");
  say("none");
  (await held)();
  expect(await outbox.drain(5000)).toBe(true);
  expect(backend.sent.map((s) => `${s.text}@${s.target.kind === "room" ? (s.target.thread ?? "-") : "?"}`)).toEqual(["a1@A", "a2@A", "b1@B", "a3@A", "none@-"]);
  for (const batch of backend.batches) expect(new Set(batch.texts.map((t) => t[0])).size).toBe(1);
});

test("every part of split messages, in order, across batches", async () => {
  const { backend, outbox } = setup({ maxMessageLength: 200 });
  outbox.start();
  const long = (tag: string) => Array.from({ length: 30 }, (_, i) => `${tag}-line-${i}`).join("\n");
  const held = backend.hold();
  outbox.enqueue({ message: "short0", channel: "#ops" }, "stream");
  outbox.enqueue({ message: long("x"), channel: "#ops" }, "stream");
  outbox.enqueue({ message: "short1", channel: "#ops" }, "stream");
  (await held)();
  expect(await outbox.drain(5000)).toBe(true);
  const sent = backend.sent.map((s) => s.text).join("\n");
  expect(sent).toBe(["short0", long("x"), "short1"].join("\n"));
  expect(backend.sent.length).toBeGreaterThan(3);
});

test("runsOf: ids as runs of consecutive numbers, whatever their order", () => {
  expect(runsOf([])).toEqual([]);
  expect(runsOf([7])).toEqual([[7, 7]]);
  expect(runsOf([3, 1, 2, 5, 9, 8, 10])).toEqual([
    [1, 3],
    [5, 5],
    [8, 10],
  ]);
  expect(runsOf([4, 4, 5])).toEqual([[4, 5]]);
});
