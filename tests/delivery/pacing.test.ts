/**
 * The outbox's pacing: a target's burst then its rate, the backend-wide rate (configured or
 * published by the backend), and where threaded and whispered messages go.
 */
import { describe, expect, test } from "bun:test";
import { MemoryBackend } from "../../src/chat/memory.ts";
import { outboxFixture } from "./outbox-fixture.ts";

const { newOutbox } = outboxFixture();

describe("Outbox rate limits and threads", () => {
  test("a target's burst goes at once, the rest is paced (queued, not failed)", async () => {
    const backend = new MemoryBackend({ sendRate: { perSecond: 20, burst: 3 } });
    // Measured from before the outbox exists (its buckets start full then, not earlier): a send's
    // own stamp can come late after its token was taken (a loaded machine), which would shorten
    // the span from the first stamp without any send having come early.
    const begun = Date.now();
    const outbox = newOutbox(backend);
    outbox.start();
    for (let i = 0; i < 6; i++) outbox.enqueue({ message: `m${i}`, channel: "#ops" }, "stream");
    expect(await outbox.drain(5000)).toBe(true);
    const at = backend.sent.map((s) => s.at);
    expect(backend.sent.map((s) => s.text)).toEqual(["m0", "m1", "m2", "m3", "m4", "m5"]);
    // 3 tokens at start, then one per 50 ms: the sixth send cannot come before 150 ms.
    expect(at[5]! - begun).toBeGreaterThanOrEqual(145);
    expect(outbox.stats().failedAttempts).toBe(0);
  });

  test("the backend-wide rate holds across targets", async () => {
    const backend = new MemoryBackend();
    const begun = Date.now(); // see "a target's burst goes at once"
    const outbox = newOutbox(backend, { overallRate: { perSecond: 20, burst: 2 } });
    outbox.start();
    for (let i = 0; i < 5; i++) outbox.enqueue({ message: `m${i}`, channel: `#room${i}` }, "stream");
    expect(await outbox.drain(5000)).toBe(true);
    const at = backend.sent.map((s) => s.at).sort((a, b) => a - b);
    expect(at).toHaveLength(5);
    expect(at[4]! - begun).toBeGreaterThanOrEqual(145);
  });

  test("a backend's published overall rate replaces the ten-times-sendRate guess, below it", async () => {
    // Ten times this sendRate would let 10 go at once; the published overall rate lets 2.
    const backend = new MemoryBackend({ sendRate: { perSecond: 1, burst: 1 }, overallSendRate: { perSecond: 20, burst: 2 } });
    const begun = Date.now(); // see "a target's burst goes at once"
    const outbox = newOutbox(backend);
    outbox.start();
    for (let i = 0; i < 5; i++) outbox.enqueue({ message: `m${i}`, channel: `#room${i}` }, "stream");
    expect(await outbox.drain(5000)).toBe(true);
    const at = backend.sent.map((s) => s.at).sort((a, b) => a - b);
    expect(at).toHaveLength(5);
    // 2 tokens at start, then one per 50 ms: the fifth send cannot come before 150 ms.
    expect(at[4]! - begun).toBeGreaterThanOrEqual(145);
  });

  test("a backend's published overall rate replaces the ten-times-sendRate guess, above it", async () => {
    // Ten times this sendRate is 10 at once, then 10/s: 30 targets would take 2 s. The published
    // overall rate (Discord's global 50/s is the real case) lets all 30 go at once.
    const backend = new MemoryBackend({ sendRate: { perSecond: 1, burst: 1 }, overallSendRate: { perSecond: 1000, burst: 30 } });
    const outbox = newOutbox(backend);
    outbox.start();
    for (let i = 0; i < 30; i++) outbox.enqueue({ message: `m${i}`, channel: `#room${i}` }, "stream");
    expect(await outbox.drain(5000)).toBe(true);
    const at = backend.sent.map((s) => s.at).sort((a, b) => a - b);
    expect(at).toHaveLength(30);
    expect(at[29]! - at[0]!).toBeLessThan(1500);
    // And the explicit option still wins over what the backend publishes.
    const capped = new MemoryBackend({ overallSendRate: { perSecond: 1000, burst: 30 } });
    const begun = Date.now(); // see "a target's burst goes at once"
    const slow = newOutbox(capped, { overallRate: { perSecond: 20, burst: 2 } });
    slow.start();
    for (let i = 0; i < 5; i++) slow.enqueue({ message: `m${i}`, channel: `#room${i}` }, "stream");
    expect(await slow.drain(5000)).toBe(true);
    const slowAt = capped.sent.map((s) => s.at).sort((a, b) => a - b);
    expect(slowAt[4]! - begun).toBeGreaterThanOrEqual(145);
  });

  test("room messages go to the thread named in the context; whispers go to the user", async () => {
    const backend = new MemoryBackend();
    const outbox = newOutbox(backend);
    outbox.start();
    outbox.enqueue({ message: "a", channel: "#ops", context: { thread_ts: "1700000000.000100" } }, "stream");
    outbox.enqueue({ message: "b", channel: "#ops", context: { ts: "1700000000.000200" }, extra: { slack: { thread_response: true } } }, "stream");
    outbox.enqueue({ message: "c", channel: "#ops", context: { ts: "1700000000.000300" } }, "stream");
    outbox.enqueue({ message: "d", channel: "#ops", user: "bob", whisper: true, context: { thread: "T1" } }, "stream");
    outbox.enqueue({ message: "e", user: "carol" }, "stream");
    expect(await outbox.drain(5000)).toBe(true);
    const byText = Object.fromEntries(backend.sent.map((s) => [s.text, s.target]));
    expect(byText.a).toEqual({ kind: "room", id: "ops", name: "#ops", thread: "1700000000.000100" });
    expect(byText.b).toEqual({ kind: "room", id: "ops", name: "#ops", thread: "1700000000.000200" });
    expect(byText.c).toEqual({ kind: "room", id: "ops", name: "#ops" });
    expect(byText.d).toEqual({ kind: "user", id: "bob", name: "@bob" });
    expect(byText.e).toEqual({ kind: "user", id: "carol", name: "@carol" });
  });
});
