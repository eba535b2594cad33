import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { readLines, TextBackend, type TextIO, WRITTEN } from "../../src/chat/text.ts";
import { renderMarkdown } from "../../src/chat/text/markdown.ts";
import type { Message } from "../../src/chat/types.ts";
import { SendError } from "../../src/lib/errors.ts";
import { type Delivered, runBackendContract } from "./contract.ts";

function io(lines: string[]): TextIO & { out: string[] } {
  const out: string[] = [];
  return {
    out,
    interactive: false,
    write: async (t) => void out.push(t),
    lines: (async function* () {
      yield* lines;
    })(),
  };
}

/**
 * A terminal driven from outside: lines typed on demand, and a reader of the output that can
 * stop reading (a write is accepted only once the reader took it, as a full pipe behaves).
 */
function terminal() {
  const typed: string[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  const read: string[] = [];
  let stalledUntil = 0;
  const lines = (async function* () {
    for (;;) {
      while (typed.length > 0) yield typed.shift()!;
      if (closed) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  })();
  const io: TextIO = {
    interactive: false,
    lines,
    write: async (text) => {
      while (Date.now() < stalledUntil) await Bun.sleep(20);
      read.push(text);
    },
  };
  return {
    io,
    read,
    type(line: string) {
      typed.push(line);
      wake?.();
    },
    close() {
      closed = true;
      wake?.();
    },
    stall(ms: number) {
      stalledUntil = Date.now() + ms;
    },
  };
}

/** `[#ops] text` / `[direct @alice] text` lines of one message back to where it went and what it said. */
function parseOutput(chunk: string): Delivered | undefined {
  const m = /^\[(#[^\] ]+|direct (@\S+))(?: thread (\S+))?\] /.exec(chunk);
  if (!m) return undefined;
  const text = chunk.trimEnd().split("\n").map((l) => l.replace(/^\[[^\]]*\] ?/, "")).join("\n");
  return { to: m[2] ?? m[1]!, thread: m[3], text };
}

runBackendContract("text", async () => {
  const t = terminal();
  const backend = new TextBackend(parseConfig("", "c"), t.io);
  return {
    backend,
    userSays: async (text, where) => {
      t.type(where.room ? `/in ${where.room}` : "/dm");
      t.type(text);
    },
    // One write may hold many one-line messages (sendMany): each line is one of them here.
    delivered: () => t.read.flatMap((c) => c.split(/(?<=\n)/).flatMap((line) => parseOutput(line) ?? [])),
    room: { st2Name: "#ops", deliveredTo: "#ops" },
    user: { st2Name: "@alice", deliveredTo: "@alice" },
    stall: async (ms) => t.stall(ms),
    hasUnknownTargets: false,
    teardown: async () => t.close(),
  };
});

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

test("a retried send while the reader stalls waits for the same bytes instead of writing them twice", async () => {
  const written: string[] = [];
  let accept!: () => void;
  const accepted = new Promise<void>((resolve) => (accept = resolve));
  const backend = new TextBackend(parseConfig("", "c"), {
    interactive: false,
    lines: (async function* () {})(),
    write: async (t) => {
      written.push(t);
      await accepted;
    },
  });
  const target = await backend.resolve("channel", "#ops");
  const first = backend.send(target, { text: "once" });
  const retry = backend.send(target, { text: "once" });
  accept();
  await Promise.all([first, retry]);
  expect(written).toEqual(["[#ops] once\n"]);
});

test("a closed output is a retryable send error: the message stays in the outbox", async () => {
  const backend = new TextBackend(parseConfig("", "c"), {
    interactive: false,
    lines: (async function* () {})(),
    write: async () => {
      throw new Error("EPIPE");
    },
  });
  const err = await backend.send({ kind: "room", id: "ops" }, { text: "lost?" }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SendError);
  expect((err as SendError).retryable).toBe(true);
});

test("/help lists the terminal's commands; an unknown /command gets an answer, not the bot", async () => {
  const fake = io(["/help", "/frobnicate now", "/as", "!st2help"]);
  const backend = new TextBackend(parseConfig("", "c"), fake);
  const got: Message[] = [];
  await backend.start((m) => void got.push(m));
  await backend.ended;
  const out = fake.out.join("");
  expect(out).toContain("  /as @user   speak as another chat user");
  expect(out).toContain("  /help       this list");
  expect(out).toContain("(/frobnicate is not a terminal command; /help lists them. Commands for the bot start with !)");
  expect(got.map((m) => m.text)).toEqual(["!st2help"]);
});

test("with a / bot prefix, /commands the terminal does not know go to the bot", async () => {
  const fake = io(["/st2 deploy", "/dm"]);
  const backend = new TextBackend(parseConfig('[bot]\nprefix = "/"', "c"), fake);
  const got: Message[] = [];
  await backend.start((m) => void got.push(m));
  await backend.ended;
  expect(got.map((m) => m.text)).toEqual(["/st2 deploy", "/dm"]);
});

test("on a terminal Markdown is styled; piped it stays plain, byte for byte", async () => {
  const text = "# Deploy\nDeploying *shop* to **prod**: `ok`\n| key | value |\n|---|---|\n| a | longer |";
  const piped = io([]);
  await new TextBackend(parseConfig("", "c"), piped).send({ kind: "room", id: "ops" }, { text });
  expect(piped.out.join("")).toBe(text.split("\n").map((l) => `[#ops] ${l}`).join("\n") + "\n");
  const tty = { ...io([]), styled: true };
  const styled = new TextBackend(parseConfig("", "c"), tty);
  await styled.send({ kind: "room", id: "ops" }, { text });
  expect(tty.out.join("")).toBe(
    [
      "[#ops] \x1b[1;4mDeploy\x1b[0m",
      "[#ops] Deploying \x1b[1mshop\x1b[0m to \x1b[1mprod\x1b[0m: \x1b[36mok\x1b[0m",
      "[#ops] \x1b[1mkey  value\x1b[0m",
      "[#ops] a    longer",
    ].join("\n") + "\n",
  );
});

test("the Markdown renderer stays linear on hostile input", () => {
  const hostile = ["*".repeat(20_000), "( *a".repeat(5_000), "|" + " ".repeat(20_000) + "x", "`".repeat(20_000), "_".repeat(20_000)].join("\n");
  const started = performance.now();
  renderMarkdown(hostile);
  const elapsed = performance.now() - started;
  // Generous: a quadratic pattern takes seconds here.
  expect(elapsed).toBeLessThan(1_000);
});

test("a terminal that draws its own prompt is told what the prompt says", async () => {
  const prompts: string[] = [];
  const fake = { ...io(["/in #ops", "/as @bob"]), interactive: true, setPrompt: (p: string) => void prompts.push(p) };
  const backend = new TextBackend(parseConfig("", "c"), fake);
  await backend.start(() => undefined);
  await backend.ended;
  expect(prompts).toEqual(["@alice> ", "@alice #ops> ", "@bob #ops> "]);
  expect(fake.out.join("")).not.toContain("> ");
});

describe("sendMany: many messages in one write", () => {
  function heldOutput() {
    const written: string[] = [];
    const settles: Array<(err?: Error) => void> = [];
    const io: TextIO = {
      interactive: false,
      lines: (async function* () {})(),
      write: (t) => {
        written.push(t);
        return new Promise<void>((resolve, reject) => settles.push((err) => (err ? reject(err) : resolve())));
      },
    };
    return { io, written, settles };
  }

  test("a send the output took at once returns WRITTEN itself (the outbox confirms it in the same turn); a held one does not", async () => {
    const written: string[] = [];
    const taken: TextIO = { interactive: false, lines: (async function* () {})(), write: (t) => (written.push(t), WRITTEN) };
    const backend = new TextBackend(parseConfig("", "c"), taken);
    expect(backend.send({ kind: "room", id: "ops" }, { text: "ack", id: "1.0.0" })).toBe(WRITTEN);
    expect(backend.sendMany({ kind: "user", id: "alice" }, [{ text: "a", id: "2.0.0" }, { text: "b", id: "3.0.0" }])).toBe(WRITTEN);
    expect(written).toEqual(["[#ops] ack\n", "[direct @alice] a\n[direct @alice] b\n"]);
    const out = heldOutput();
    const held = new TextBackend(parseConfig("", "c"), out.io).send({ kind: "room", id: "ops" }, { text: "x", id: "4.0.0" });
    expect(held).not.toBe(WRITTEN);
    out.settles[0]!(new Error("EPIPE"));
    expect(await held.catch((e: unknown) => e)).toBeInstanceOf(SendError);
  });

  test("one write holds every message in order, identical texts included; confirmed only when the output took it", async () => {
    const out = heldOutput();
    const backend = new TextBackend(parseConfig("", "c"), out.io);
    let done = false;
    const sending = backend.sendMany({ kind: "room", id: "ops" }, [
      { text: "first", id: "1.0.0" },
      { text: "two\nlines", id: "2.0.0" },
      { text: "same", id: "3.0.0" },
      { text: "same", id: "4.0.0" },
    ]).then(() => (done = true));
    await Bun.sleep(10);
    expect(out.written).toEqual(["[#ops] first\n[#ops] two\n[#ops] lines\n[#ops] same\n[#ops] same\n"]);
    expect(done).toBe(false);
    out.settles[0]!();
    await sending;
    expect(done).toBe(true);
  });

  test("a failed write rejects the whole batch (retryable); the retry writes them again", async () => {
    const out = heldOutput();
    const backend = new TextBackend(parseConfig("", "c"), out.io);
    const msgs = [
      { text: "a", id: "1.0.0" },
      { text: "b", id: "2.0.0" },
    ];
    const first = backend.sendMany({ kind: "user", id: "alice" }, msgs).catch((e: unknown) => e);
    out.settles[0]!(new Error("EPIPE"));
    const err = await first;
    expect(err).toBeInstanceOf(SendError);
    expect((err as SendError).retryable).toBe(true);
    const retry = backend.sendMany({ kind: "user", id: "alice" }, msgs);
    out.settles[1]!();
    await retry;
    expect(out.written).toEqual(["[direct @alice] a\n[direct @alice] b\n", "[direct @alice] a\n[direct @alice] b\n"]);
  });

  test("a retry while the first write is unconfirmed waits for it, and writes only what it did not hold", async () => {
    const out = heldOutput();
    const backend = new TextBackend(parseConfig("", "c"), out.io);
    const target = { kind: "room" as const, id: "ops" };
    const first = backend.sendMany(target, [
      { text: "a", id: "1.0.0" },
      { text: "b", id: "2.0.0" },
    ]);
    // The outbox timed out and retries the head alone, then a batch starting with the second.
    const head = backend.send(target, { text: "a", id: "1.0.0" });
    const rest = backend.sendMany(target, [
      { text: "b", id: "2.0.0" },
      { text: "c", id: "3.0.0" },
    ]);
    expect(out.written).toEqual(["[#ops] a\n[#ops] b\n", "[#ops] c\n"]);
    out.settles[1]!();
    let restDone = false;
    void rest.then(() => (restDone = true));
    await Bun.sleep(10);
    // "b" is in the first write, still unconfirmed.
    expect(restDone).toBe(false);
    out.settles[0]!();
    await Promise.all([first, head, rest]);
  });
});
