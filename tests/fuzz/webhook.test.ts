/**
 * Seeded fuzzing of the webhook through app.handle: random JSON shapes, wrong types, random
 * bytes, huge strings, deep nesting and unicode. Every answer is a 2xx or a 4xx with a message,
 * never a crash or a 5xx, and only valid announcements are queued.
 */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { WebhookSchema, WebSchema } from "../../src/config/schema.ts";
import type { Announcement } from "../../src/delivery/announcement.ts";
import { setLogSink } from "../../src/lib/log.ts";
import { createServer } from "../../src/web/server.ts";
import { webhookPlugin } from "../../src/web/webhook.ts";
import { openDatabase } from "../../src/store/db.ts";
import { ReplayStore } from "../../src/store/replay.ts";
import { Rng } from "../support/prng.ts";

setLogSink(() => {});
const TOKEN = "fuzz-token-0123456789-0123456789abcdef";
const queued: Announcement[] = [];
const outbox = { enqueue: (a: Announcement) => queued.push(a), enqueueWith: (a: Announcement, _s: unknown, record: () => void) => (record(), queued.push(a)) };
const config = v.parse(WebhookSchema, { token: TOKEN, max_body_bytes: 65536 });
const replay = new ReplayStore(openDatabase(":memory:"));
const { app } = createServer({ config: v.parse(WebSchema, {}), plugins: [webhookPlugin({ config, outbox, replay })] });

function bodyFor(rng: Rng): string | Uint8Array<ArrayBuffer> {
  switch (rng.int(8)) {
    case 0:
      return rng.bytes(300);
    case 1:
      return JSON.stringify(rng.json(4));
    case 2: {
      // A valid body with one field given a random value.
      const body: Record<string, unknown> = { channel: "#ops", message: "ok", user: "alice", whisper: false, extra: {} };
      body[rng.pick(["channel", "message", "user", "whisper", "extra", "context"])] = rng.json(2);
      return JSON.stringify(body);
    }
    case 3:
      return JSON.stringify({ channel: rng.string(10), message: rng.string(rng.pick([10, 1000, 30000])) });
    case 4: {
      const depth = rng.pick([10, 100, 1000, 20000]);
      return `{"message":"deep","channel":"#x","extra":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`;
    }
    case 5: {
      const text = JSON.stringify({ channel: "#ops", message: rng.string(50) });
      return text.slice(0, rng.int(text.length));
    }
    case 6:
      return "x".repeat(rng.pick([65536, 65537, 200000]));
    default:
      return JSON.stringify({ channel: "#ops", message: rng.string(40), whisper: rng.chance(0.5), user: rng.string(5), context: rng.json(2) });
  }
}

describe("webhook fuzz", () => {
  test("3,000 seeded bodies: every answer is a 202 or a 4xx with a message", async () => {
    const rng = new Rng(7);
    const seen = new Map<number, number>();
    for (let i = 0; i < 3000; i++) {
      const before = queued.length;
      const body = bodyFor(rng);
      const type = rng.chance(0.9) ? "application/json" : rng.pick(["text/plain", "", "application/json; charset=utf-8"]);
      const res = await app.handle(
        new Request("http://localhost/chatops/message", { method: "POST", body, headers: { authorization: `Bearer ${TOKEN}`, "content-type": type } }),
      );
      const answer = (await res.json()) as { error?: unknown; id?: unknown };
      seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
      const where = `case ${i} (seed 7)`;
      expect([202, 400, 413, 415], where).toContain(res.status);
      if (res.status === 202) {
        expect(typeof answer.id, where).toBe("number");
        expect(queued.length, where).toBe(before + 1);
        const a = queued[queued.length - 1]!;
        expect(typeof a.message === "string" && a.message.trim() !== "", where).toBe(true);
        expect(Boolean(a.channel || a.user), where).toBe(true);
      } else {
        expect(typeof answer.error === "string" && answer.error.length > 0, where).toBe(true);
        expect(queued.length, where).toBe(before);
      }
    }
    // The generator reaches every kind of answer.
    expect([...seen.keys()].sort()).toEqual([202, 400, 413, 415]);
  }, 60_000);
});
