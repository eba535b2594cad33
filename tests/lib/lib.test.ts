import { describe, expect, test } from "bun:test";
import { Backoff, sleep } from "../../src/lib/backoff.ts";
import { captureLogs, logger, redact, registerSecret } from "../../src/lib/log.ts";
import { withTimeout } from "../../src/lib/timeout.ts";

describe("Backoff", () => {
  test("grows by the factor, is capped, and jitters within [delay/2, delay]", () => {
    const lowest = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, random: () => 0 });
    const highest = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, random: () => 1 });
    expect([1, 2, 3, 4, 5, 6].map(() => highest.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect([1, 2, 3, 4, 5, 6].map(() => lowest.next())).toEqual([50, 100, 200, 400, 500, 500]);
  });

  test("reset starts small again", () => {
    const b = new Backoff({ initialMs: 10, factor: 3, random: () => 1 });
    b.next();
    b.next();
    expect(b.attempts).toBe(2);
    b.reset();
    expect(b.next()).toBe(10);
  });

  test("sleep ends early when aborted", async () => {
    const ctl = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ctl.abort(), 20);
    await sleep(5_000, ctl.signal);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});

describe("logging never shows a secret", () => {
  test("registered values are masked in messages and fields; secret-looking keys are masked whatever their value", () => {
    const lines: string[] = [];
    const restore = captureLogs((l) => lines.push(l));
    try {
      registerSecret("hunter2-very-secret");
      logger("test").warn("login with hunter2-very-secret failed", { detail: ["x hunter2-very-secret y"], password: "other", apiKey: "k", user: "alice" });
    } finally {
      restore();
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain("hunter2-very-secret");
    expect(lines[0]).not.toContain("other");
    expect(lines[0]).toContain("login with *** failed");
    expect(lines[0]).toContain('"user":"alice"');
    expect(redact("a hunter2-very-secret b")).toBe("a *** b");
  });

  test("captureLogs restores the previous sink and level", () => {
    const outer: string[] = [];
    const restoreOuter = captureLogs((l) => outer.push(l), "warn");
    const inner: string[] = [];
    const restoreInner = captureLogs((l) => inner.push(l), "debug");
    logger("t").debug("inner debug");
    restoreInner();
    logger("t").debug("outer debug is below warn");
    logger("t").warn("outer warn");
    restoreOuter();
    expect(inner.map((l) => l.slice(25))).toEqual(["DEBUG t: inner debug"]);
    expect(outer.map((l) => l.slice(25))).toEqual(["WARN  t: outer warn"]);
  });
});

describe("withTimeout", () => {
  test("passes the result through, or rejects with the given error after the time", async () => {
    expect(await withTimeout(Promise.resolve(7), 100, () => new Error("slow"))).toBe(7);
    const never = new Promise<number>(() => {});
    await expect(withTimeout(never, 10, () => new Error("too slow"))).rejects.toThrow("too slow");
  });
});
