/** The fenced backend: nothing reaches the chat service without a valid lease; a refusal tells the lease. */
import { expect, test } from "bun:test";
import { fencedBackend } from "../../src/cluster/fenced.ts";
import { MemoryBackend } from "../../src/chat/memory.ts";
import { isRetryable, SendError } from "../../src/lib/errors.ts";

test("sends only while the lease is valid; a refused send is retryable and reported", async () => {
  const inner = new MemoryBackend();
  let valid = true;
  let expired = 0;
  const b = fencedBackend(inner, { maySend: () => valid, expired: () => expired++ });
  await b.send({ kind: "room", id: "ops" }, { text: "one" });
  valid = false;
  const err = await b.send({ kind: "room", id: "ops" }, { text: "two" }).catch((e) => e);
  expect(err).toBeInstanceOf(SendError);
  expect(isRetryable(err)).toBe(true);
  expect(expired).toBe(1);
  expect(inner.sent.map((m) => m.text)).toEqual(["one"]);
  expect(b.name).toBe(inner.name);
  expect(b.maxMessageLength).toBe(inner.maxMessageLength);
});

test("passes the backend's published send rates through, so the outbox paces a leader like a single instance", () => {
  const inner = new MemoryBackend({ sendRate: { perSecond: 1, burst: 5 }, overallSendRate: { perSecond: 50, burst: 50 } });
  const b = fencedBackend(inner, { maySend: () => true, expired: () => {} });
  expect(b.sendRate).toEqual({ perSecond: 1, burst: 5 });
  expect(b.overallSendRate).toEqual({ perSecond: 50, burst: 50 });
});
