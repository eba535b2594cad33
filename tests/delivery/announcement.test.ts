import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { AnnouncementSchema, parseAnnouncement, parseStreamAnnouncement, targetOf, threadOf } from "../../src/delivery/announcement.ts";

describe("targetOf: the delivery rule of both bridges", () => {
  test("whisper with a user goes to the user", () => {
    expect(targetOf({ message: "m", channel: "#ops", user: "alice", whisper: true })).toEqual({ kind: "user", value: "alice" });
  });
  test("otherwise the channel, even when a user is named", () => {
    expect(targetOf({ message: "m", channel: "#ops", user: "alice" })).toEqual({ kind: "channel", value: "#ops" });
  });
  test("whisper without a user still goes to the channel", () => {
    expect(targetOf({ message: "m", channel: "#ops", whisper: true })).toEqual({ kind: "channel", value: "#ops" });
  });
  test("no channel: the user", () => {
    expect(targetOf({ message: "m", user: "alice" })).toEqual({ kind: "user", value: "alice" });
  });
  test("neither: no target", () => {
    expect(targetOf({ message: "m" })).toBeUndefined();
    expect(parseAnnouncement({ message: "m", channel: "", user: "" })).toEqual({ ok: true, value: { message: "m" } });
  });
});

describe("threadOf", () => {
  test("context.thread, then context.thread_ts", () => {
    expect(threadOf({ message: "m", context: { thread: "T1", thread_ts: "2" } })).toBe("T1");
    expect(threadOf({ message: "m", context: { thread_ts: "1700000000.1" } })).toBe("1700000000.1");
  });
  test("extra.slack.thread_response threads under the original message", () => {
    expect(threadOf({ message: "m", context: { ts: "9.9" }, extra: { slack: { thread_response: true } } })).toBe("9.9");
    expect(threadOf({ message: "m", context: { ts: "9.9" } })).toBeUndefined();
  });
  test("nothing usable: no thread", () => {
    expect(threadOf({ message: "m" })).toBeUndefined();
    expect(threadOf({ message: "m", context: { thread: { nested: 1 } } })).toBeUndefined();
  });
});

describe("parseStreamAnnouncement", () => {
  test("reads StackStorm's post_message payload", () => {
    const event = {
      payload: {
        message: "Action core.local completed.",
        channel: "#ops",
        user: "alice",
        whisper: false,
        context: { source_channel: "#ops", thread_ts: "1.1" },
        extra: { slack: { color: "good" } },
      },
    };
    expect(parseStreamAnnouncement(event)).toEqual({
      ok: true,
      value: {
        message: "Action core.local completed.",
        channel: "#ops",
        user: "alice",
        context: { source_channel: "#ops", thread_ts: "1.1" },
        extra: { slack: { color: "good" } },
      },
    });
  });
  test("names the bad field", () => {
    expect(parseStreamAnnouncement({ payload: { message: "x", channel: "#a", extra: "red" } })).toEqual({ ok: false, error: `payload: "extra" must be an object` });
    expect(parseStreamAnnouncement({ payload: { message: 5 } })).toEqual({ ok: false, error: `payload: "message" must be a string` });
    expect(parseStreamAnnouncement({ payload: [] })).toEqual({ ok: false, error: "payload: the announcement must be a JSON object" });
  });
  test("refuses absurdly deep extra instead of risking the stack later", () => {
    let extra: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) extra = { a: extra };
    expect(parseStreamAnnouncement({ payload: { message: "x", channel: "#a", extra } })).toEqual({
      ok: false,
      error: `payload: "extra" is nested more than 64 levels deep`,
    });
  });
});

describe("the hand check before valibot", () => {
  test("accepts and refuses exactly what AnnouncementSchema does, with the same value", () => {
    const values: unknown[] = [undefined, null, "", "x", 0, 1, true, false, {}, { a: { b: 1 } }, [], ["x"], new Date(0)];
    let checked = 0;
    for (const message of ["hi", "", " ", 3, null, undefined, ["hi"]]) {
      for (const field of ["channel", "user", "whisper", "context", "extra"]) {
        for (const value of values) {
          const data: Record<string, unknown> = { message, channel: "#ops", [field]: value, unknown_key: 1 };
          const schema = v.safeParse(AnnouncementSchema, data);
          const parsed = parseAnnouncement(data);
          if (!schema.success) expect(parsed.ok).toBe(false);
          else if (typeof message === "string" && message.trim() !== "") {
            const o = schema.output;
            const expected: Record<string, unknown> = { message: o.message };
            if (o.channel) expected.channel = o.channel;
            if (o.user) expected.user = o.user;
            if (o.whisper) expected.whisper = true;
            if (o.context) expected.context = o.context;
            if (o.extra) expected.extra = o.extra;
            expect(parsed).toEqual({ ok: true, value: expected as never });
          }
          checked++;
        }
      }
    }
    expect(checked).toBe(7 * 5 * values.length);
  });
});
