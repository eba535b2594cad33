/**
 * `readLines`, the terminal backend's input: lines however the bytes are chunked, read only as
 * the loop asks for them, the stream cancelled when the loop leaves, a read error reaching it.
 */
import { expect, test } from "bun:test";
import { readLines } from "../../src/chat/text.ts";

/** A stream fed by hand; `pulls` counts the reads it was asked for. */
function fed() {
  let control!: ReadableStreamDefaultController<Uint8Array>;
  let cancelled: unknown = "not cancelled";
  const state = { pulls: 0 };
  const stream = new ReadableStream<Uint8Array>(
    {
      start: (c) => void (control = c),
      pull: () => void state.pulls++,
      cancel: (reason) => void (cancelled = reason),
    },
    { highWaterMark: 0 },
  );
  const enc = new TextEncoder();
  return {
    stream,
    state,
    send: (text: string) => control.enqueue(enc.encode(text)),
    close: () => control.close(),
    fail: (err: Error) => control.error(err),
    cancelled: () => cancelled,
  };
}

test("lines split and joined across chunks, CRLF, blank lines and an unterminated last line", async () => {
  const chunks = ["one\ntw", "o\r\n\nthree\nfo", "", "ur", "\n", "fi\r", "\nlast"];
  const enc = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (const chunk of chunks) c.enqueue(enc.encode(chunk));
      c.close();
    },
  });
  const lines: string[] = [];
  for await (const l of readLines(stream)) lines.push(l);
  expect(lines).toEqual(["one", "two", "", "three", "four", "fi", "last"]);
  const empty: string[] = [];
  for await (const l of readLines(new ReadableStream({ start: (c) => c.close() }))) empty.push(l);
  expect(empty).toEqual([]);
});

test("a line is handed over as soon as its bytes arrive, and nothing more is read until the next is asked for", async () => {
  const input = fed();
  const lines = readLines(input.stream)[Symbol.asyncIterator]();
  const first = lines.next();
  input.send("a\nb\n");
  expect(await first).toEqual({ value: "a", done: false });
  const pulls = input.state.pulls;
  // "b" is already held: no read for it, and none while the loop handles it.
  expect(await lines.next()).toEqual({ value: "b", done: false });
  await Bun.sleep(5);
  expect(input.state.pulls).toBe(pulls);
  const third = lines.next();
  input.send("c");
  input.close();
  expect(await third).toEqual({ value: "c", done: false });
  expect(await lines.next()).toEqual({ value: undefined, done: true });
});

test("leaving the loop cancels the stream; a read error reaches the loop", async () => {
  const input = fed();
  input.send("stop\nnever\n");
  for await (const l of readLines(input.stream)) {
    expect(l).toBe("stop");
    break;
  }
  expect(input.cancelled()).toBeUndefined();

  const broken = fed();
  broken.send("ok\n");
  const seen: string[] = [];
  const loop = (async () => {
    for await (const l of readLines(broken.stream)) {
      seen.push(l);
      broken.fail(new Error("EIO"));
    }
  })();
  await expect(loop).rejects.toThrow("EIO");
  expect(seen).toEqual(["ok"]);
});
