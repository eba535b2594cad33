/**
 * Seeded fuzzing of the stream announcement parser: random JSON, wrong types and truncated
 * event text. It never throws; it returns a valid Announcement or {ok: false, error}.
 */
import { expect, test } from "bun:test";
import { parseStreamAnnouncement, targetOf } from "../../src/delivery/announcement.ts";
import { Rng } from "../support/prng.ts";

function eventFor(rng: Rng): unknown {
  const payload: Record<string, unknown> = {
    message: "Action core.local completed.",
    channel: "#ops",
    user: "alice",
    whisper: false,
    context: { thread_ts: "1.2" },
    extra: null,
  };
  switch (rng.int(5)) {
    case 0:
      return rng.json(5);
    case 1:
      payload[rng.pick(Object.keys(payload))] = rng.json(2);
      return { payload };
    case 2: {
      const text = JSON.stringify({ payload });
      return text.slice(0, rng.int(text.length + 1));
    }
    case 3:
      delete payload[rng.pick(Object.keys(payload))];
      return rng.chance(0.5) ? { payload } : JSON.stringify({ payload });
    default:
      return { payload: rng.json(3) };
  }
}

test("4,000 seeded stream events: a valid announcement or a clear error, never a throw", () => {
  const rng = new Rng(11);
  let ok = 0;
  for (let i = 0; i < 4000; i++) {
    const result = parseStreamAnnouncement(eventFor(rng));
    if (result.ok) {
      ok++;
      const a = result.value;
      expect(typeof a.message).toBe("string");
      expect(a.message.trim()).not.toBe("");
      for (const key of ["channel", "user"] as const) if (a[key] !== undefined) expect(typeof a[key]).toBe("string");
      if (a.whisper !== undefined) expect(a.whisper).toBe(true);
      for (const key of ["context", "extra"] as const) {
        if (a[key] !== undefined) expect(typeof a[key] === "object" && !Array.isArray(a[key])).toBe(true);
      }
      const target = targetOf(a);
      if (target) expect(target.value.length).toBeGreaterThan(0);
    } else {
      expect(result.error.length).toBeGreaterThan(0);
    }
  }
  expect(ok).toBeGreaterThan(100);
});

test("StackStorm's own shapes: null extra/context and absent fields are tolerated", () => {
  const r = parseStreamAnnouncement({ payload: { message: "hi", channel: "#ops", user: null, whisper: null, context: null, extra: null } });
  expect(r).toEqual({ ok: true, value: { message: "hi", channel: "#ops" } });
  expect(parseStreamAnnouncement('{"payload": {"message": "hi", "user": "bob", "whisper": true}}')).toEqual({
    ok: true,
    value: { message: "hi", user: "bob", whisper: true },
  });
  expect(parseStreamAnnouncement("{")).toEqual({ ok: false, error: "the announcement event is not valid JSON" });
  expect(parseStreamAnnouncement({})).toEqual({ ok: false, error: `"payload" is required` });
  expect(parseStreamAnnouncement({ payload: { channel: "#ops" } })).toEqual({ ok: false, error: `payload: "message" is required` });
});
