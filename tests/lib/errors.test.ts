/** lib/errors: the one text of any thrown value, and retry decided by each error class. */
import { describe, expect, test } from "bun:test";
import { CommandError, ConfigError, describeError, isRetryable, SendError } from "../../src/lib/errors.ts";
import { St2ApiError } from "../../src/st2/http.ts";
import { hasJsonType, isRecord } from "../../src/lib/json.ts";

describe("describeError", () => {
  test("an Error's message, its name when the message is empty, anything else as a string", () => {
    expect(describeError(new Error("boom"))).toBe("boom");
    expect(describeError(new TypeError(""))).toBe("TypeError");
    expect(describeError("plain text")).toBe("plain text");
    expect(describeError(42)).toBe("42");
    expect(describeError(undefined)).toBe("undefined");
  });

  test("with stack, an Error's stack (which names the message)", () => {
    const err = new Error("deep");
    expect(describeError(err, { stack: true })).toBe(err.stack!);
    expect(describeError("no stack", { stack: true })).toBe("no stack");
  });
});

describe("isRetryable", () => {
  test("each class says it: a send's own flag, StackStorm's status, anything unknown may pass", () => {
    expect(isRetryable(new SendError("unknown channel", false))).toBe(false);
    expect(isRetryable(new SendError("429", true, 1000))).toBe(true);
    expect(isRetryable(new St2ApiError(404, "not found", "GET", "/x"))).toBe(false);
    expect(isRetryable(new St2ApiError(503, "down", "GET", "/x"))).toBe(true);
    expect(isRetryable(new St2ApiError(0, "unreachable", "GET", "/x"))).toBe(true);
    expect(isRetryable(new CommandError("no"))).toBe(true);
    expect(isRetryable(new ConfigError("bad"))).toBe(true);
    expect(isRetryable(new Error("network"))).toBe(true);
  });

  test("a status field on some other error is not read", () => {
    // The old classifier sniffed `status` on any St2botError; only St2ApiError knows what its status means.
    const odd = Object.assign(new ConfigError("has a status"), { status: 400 });
    expect(isRetryable(odd)).toBe(true);
  });
});

describe("lib/json", () => {
  test("isRecord: objects only, not arrays or null", () => {
    expect([{}, { a: 1 }, [], null, "x", 1].map(isRecord)).toEqual([true, true, false, false, false, false]);
  });

  test("hasJsonType: JSON Schema's types; unknown type names pass", () => {
    expect(hasJsonType(2, "integer")).toBe(true);
    expect(hasJsonType(2.5, "integer")).toBe(false);
    expect(hasJsonType(Number.NaN, "number")).toBe(false);
    expect(hasJsonType([], "object")).toBe(false);
    expect(hasJsonType(null, "null")).toBe(true);
    expect(hasJsonType("x", "whatever")).toBe(true);
  });
});
