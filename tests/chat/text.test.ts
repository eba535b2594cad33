import { expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { readLines, TextBackend, type TextIO } from "../../src/chat/text.ts";
import type { Message } from "../../src/chat/types.ts";

function io(lines: string[]): TextIO & { out: string[] } {
  const out: string[] = [];
  return {
    out,
    interactive: false,
    write: (t) => void out.push(t),
    lines: (async function* () {
      yield* lines;
    })(),
  };
}

test("each line is a message; /as, /in and /dm switch the sender and the place", async () => {
  const fake = io(["!st2help", "/in #ops", "!st2 deploy", "/as @bob", "héllo 日本 🚀", "/dm", "  ", "last"]);
  const backend = new TextBackend(parseConfig("", "c"), fake);
  const got: Message[] = [];
  await backend.start((m) => void got.push(m));
  await backend.ended;
  expect(got.map((m) => [m.from.nick, m.room?.name ?? "direct", m.text])).toEqual([
    ["alice", "direct", "!st2help"],
    ["alice", "#ops", "!st2 deploy"],
    ["bob", "#ops", "héllo 日本 🚀"],
    ["bob", "direct", "last"],
  ]);
  expect(backend.sourceChannel(got[1]!)).toBe("#ops");
  expect(got[0]!.from.aclId).toBe("@alice");
});

test("every output line shows where the message went", async () => {
  const fake = io([]);
  const backend = new TextBackend(parseConfig("", "c"), fake);
  await backend.send(await backend.resolve("channel", "#ops"), { text: "line one\nline two ✓" });
  await backend.send(await backend.resolve("user", "@alice"), { text: "psst" });
  await backend.send({ kind: "room", id: "ops", thread: "42" }, { text: "in a thread" });
  expect(fake.out.join("")).toBe("[#ops] line one\n[#ops] line two ✓\n[direct @alice] psst\n[#ops thread 42] in a thread\n");
});

test("UTF-8 is decoded across chunk boundaries whatever the locale", async () => {
  const bytes = new TextEncoder().encode("ünïcödé 日本語 🚀\nzwei\r\nlast");
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < bytes.length; i += 3) c.enqueue(bytes.slice(i, i + 3));
      c.close();
    },
  });
  const lines: string[] = [];
  for await (const l of readLines(stream)) lines.push(l);
  expect(lines).toEqual(["ünïcödé 日本語 🚀", "zwei", "last"]);
});
