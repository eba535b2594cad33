import { expect, test } from "bun:test";
import { KEEP, OutputBuffer, tailOf, unseenPieces } from "../../src/bot/tail/output.ts";
import { block, liveMessage } from "../../src/bot/tail/render.ts";
import { Pacer } from "../../src/bot/tail/sinks.ts";

test("pieces that arrived during the catch-up read are appended only when the read does not already end with them", () => {
  expect(unseenPieces("a\nb\nc\n", ["b\n", "c\n", "d\n"])).toEqual(["d\n"]);
  expect(unseenPieces("a\n", ["b\n", "c\n"])).toEqual(["b\n", "c\n"]);
  expect(unseenPieces("a\nb\n", [])).toEqual([]);
  expect(unseenPieces("", ["x"])).toEqual(["x"]);
});

test("the buffer keeps the last KEEP characters, counts all, and says what a slice left out", () => {
  const out = new OutputBuffer();
  out.append("x".repeat(KEEP));
  out.append("tail\n");
  expect(out.total).toBe(KEEP + 5);
  expect(out.since(0)).toEqual({ text: "x".repeat(KEEP - 5) + "tail\n", skipped: 5 });
  expect(out.since(KEEP)).toEqual({ text: "tail\n", skipped: 0 });
  out.reset("fresh");
  expect(out.tail(100)).toEqual({ text: "fresh", skipped: 0 });
});

test("a tail starts at a line when one starts close to the cut", () => {
  expect(tailOf("aaaa\nbbbb\ncccc\n", 12)).toEqual({ text: "bbbb\ncccc\n", skipped: 5 });
  expect(tailOf("0123456789", 4, 10)).toEqual({ text: "6789", skipped: 16 });
});

test("output cannot close its code block; a live message without output says so", () => {
  expect(block("a ``` b\n")).toBe("```\na `\u200b`` b\n```");
  expect(liveMessage({ shown: "0a1b2c", status: "running", ref: "x.y" }, { text: "", skipped: 0 })).toBe("⏳ x.y 0a1b2c: running\n(no output yet)");
});

test("the shared edit budget: a burst, then the rate; a rate limit pauses everyone for as long as asked", () => {
  let now = 0;
  const pacer = new Pacer({ perSecond: 1, burst: 2 }, () => now);
  expect([pacer.take(), pacer.take()]).toEqual([0, 0]);
  expect(pacer.take()).toBe(1000);
  now = 1000;
  expect(pacer.take()).toBe(0);
  pacer.pause(5000);
  now = 3000;
  expect(pacer.take()).toBe(3000);
  now = 6000;
  expect(pacer.take()).toBe(0);
});
