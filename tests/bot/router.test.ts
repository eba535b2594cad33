import { describe, expect, test } from "bun:test";
import { MemoryBackend } from "../../src/chat/memory.ts";
import type { Message, Outgoing, Target } from "../../src/chat/types.ts";
import { addressed, createRouter } from "../../src/bot/router.ts";
import type { Command, Middleware } from "../../src/bot/types.ts";
import { CommandError } from "../../src/lib/errors.ts";
import { CommandGarbage } from "../../src/lib/load.ts";
import { captureLogs } from "../../src/lib/log.ts";

const msg = (text: string, extra: Partial<Message> = {}): Message => ({
  text,
  from: { id: "U1", nick: "alice", aclId: "@alice", st2User: "alice" },
  direct: false,
  room: { id: "C1", name: "#ops" },
  ...extra,
});

describe("addressed", () => {
  const names = ["st2bot", "@st2bot"];
  test.each([
    ["!st2 deploy web", "st2 deploy web", false],
    ["  !st2help  ", "st2help", false],
    ["@st2bot deploy web", "deploy web", true],
    ["st2bot: deploy web", "deploy web", true],
    ["ST2BOT, deploy web", "deploy web", true],
    ["@st2bot !st2 deploy", "st2 deploy", true],
  ])("%p → %p", (text, want, byName) => {
    expect(addressed(msg(text), "!", names)).toEqual({ text: want, byName });
  });

  test("ordinary chatter is ignored", () => {
    expect(addressed(msg("deploy web please"), "!", names)).toBeUndefined();
    expect(addressed(msg("st2botany is fun"), "!", names)).toBeUndefined();
  });

  test("a mention flagged by the backend needs no prefix", () => {
    expect(addressed(msg("deploy web", { mentioned: true }), "!", names)).toEqual({ text: "deploy web", byName: true });
  });

  test("names given as a function are asked for only when the prefix is not there, with the same verdicts", () => {
    let asked = 0;
    const lazy = () => (asked++, names);
    expect(addressed(msg("!st2 deploy web"), "!", lazy)).toEqual({ text: "st2 deploy web", byName: false });
    expect(asked).toBe(0);
    expect(addressed(msg("@st2bot deploy web"), "!", lazy)).toEqual({ text: "deploy web", byName: true });
    expect(addressed(msg("deploy web please"), "!", lazy)).toBeUndefined();
    expect(asked).toBe(2);
  });
});

/** A backend that, like Slack and Mattermost, learns the bot's account name only once connected. */
class RenamedBackend extends MemoryBackend {
  names = ["st2bot", "@st2bot"];
  override botNames(): string[] {
    return this.names;
  }
}

function harness(opts: { middleware?: Middleware[]; fallback?: boolean; garbage?: CommandGarbage } = {}) {
  const backend = new RenamedBackend();
  const sent: { target: Target; out: Outgoing }[] = [];
  const calls: string[] = [];
  const echo: Command = { plugin: "Test", name: "echo", help: "echo", run: async (ctx) => ctx.reply(`echo: ${ctx.command!.args}`) };
  const fail: Command = { plugin: "Test", name: "fail", help: "", run: async () => { throw new CommandError("You cannot do that."); } };
  const crash: Command = { plugin: "Test", name: "crash", help: "", run: async () => { throw new Error("secret internals at /etc/x"); } };
  const run: Command = { plugin: "St2", name: "st2", help: "", run: async (ctx) => { calls.push(ctx.command!.args); } };
  const handler = createRouter(backend, {
    prefix: "!",
    botName: "st2bot",
    commands: opts.fallback ? [echo, fail, crash] : [echo, fail, crash, run],
    fallback: run,
    fallbackAfterPrefix: opts.fallback,
    middleware: opts.middleware ?? [],
    isAdmin: () => false,
    reply: async (m, out) => void sent.push({ target: backend.replyTarget(m), out }),
    unknown: (ctx, typed) => ctx.reply(`unknown: ${typed}`),
    garbage: opts.garbage,
  });
  return { handler, sent, calls, backend };
}

describe("router", () => {
  test("collects young garbage only after a command has answered, failed or crashed, never while one runs", async () => {
    const events: string[] = [];
    const garbage = new CommandGarbage({ every: 1, collect: () => events.push("collect"), later: (fn) => queueMicrotask(fn) });
    const h = harness({ garbage });
    const { backend } = h;
    const stop = captureLogs(() => {});
    try {
      backend.sent.length = 0;
      await h.handler(msg("!echo one"));
      await Promise.resolve();
      events.push("after echo");
      await h.handler(msg("!fail"));
      await h.handler(msg("!crash"));
      await Promise.resolve();
      events.push("after failures");
      // Not for what is no command: chatter, unknown commands.
      await h.handler(msg("hello there"));
      await h.handler(msg("!nosuch"));
      await Promise.resolve();
    } finally {
      stop();
    }
    expect(events).toEqual(["collect", "after echo", "collect", "collect", "after failures"]);
    expect(h.sent.map((m) => m.out.text)[0]).toBe("echo: one");
  });

  test("dispatches by name and replies in the same room and thread", async () => {
    const h = harness();
    await h.handler(msg("!echo hi there", { thread: "T1" }));
    expect(h.sent).toEqual([{ target: { kind: "room", id: "C1", name: "#ops", thread: "T1" }, out: { text: "echo: hi there", extra: undefined } }]);
  });

  test("command names are case-insensitive; a DM reply goes to the user", async () => {
    const h = harness();
    await h.handler(msg("!ECHO x", { room: undefined, direct: true }));
    expect(h.sent[0]!.target).toEqual({ kind: "user", id: "U1", name: "@alice" });
  });

  test("answers to the name the backend learns after the router was built", async () => {
    const h = harness();
    h.backend.names = ["opsbot", "@opsbot"];
    await h.handler(msg("opsbot: echo hi"));
    expect(h.sent.map((m) => m.out.text)).toEqual(["echo: hi"]);
  });

  test("st2 gets everything after its name", async () => {
    const h = harness();
    await h.handler(msg("!st2 deploy web to prod"));
    expect(h.calls).toEqual(["deploy web to prod"]);
  });

  test("an empty plugin prefix runs unclaimed text as an alias", async () => {
    const h = harness({ fallback: true });
    await h.handler(msg("!deploy web"));
    await h.handler(msg("!echo still works"));
    expect(h.calls).toEqual(["deploy web"]);
    expect(h.sent.map((s) => s.out.text)).toEqual(["echo: still works"]);
  });

  test("addressed by name, any text that is not a bot command runs as an alias", async () => {
    const h = harness();
    await h.handler(msg("@st2bot deploy web"));
    await h.handler(msg("st2bot: echo hi"));
    expect(h.calls).toEqual(["deploy web"]);
    expect(h.sent.map((s) => s.out.text)).toEqual(["echo: hi"]);
  });

  test("unknown commands get the unknown reply", async () => {
    const h = harness();
    await h.handler(msg("!nope"));
    expect(h.sent[0]!.out.text).toBe("unknown: nope");
  });

  test("a CommandError reaches the user as written", async () => {
    const h = harness();
    await h.handler(msg("!fail"));
    expect(h.sent[0]!.out.text).toBe("You cannot do that.");
  });

  test("an unexpected error gets a generic reply with an id, details only in the log", async () => {
    const lines: string[] = [];
    const restoreLogs = captureLogs((l) => lines.push(l));
    const h = harness();
    await h.handler(msg("!crash"));
    restoreLogs();
    const reply = h.sent[0]!.out.text;
    expect(reply).toMatch(/^Sorry, something went wrong running that command \(error id [0-9a-f]{8}\)\.$/);
    expect(reply).not.toContain("/etc/x");
    const id = /error id ([0-9a-f]{8})/.exec(reply)![1]!;
    expect(lines.some((l) => l.includes(id) && l.includes("secret internals"))).toBe(true);
  });

  test("middleware runs before the command and can stop it", async () => {
    const seen: string[] = [];
    const h = harness({
      middleware: [
        async (ctx, next) => {
          seen.push(ctx.commandDef!.name);
          if (ctx.command!.args !== "blocked") await next();
        },
      ],
    });
    await h.handler(msg("!echo ok"));
    await h.handler(msg("!echo blocked"));
    expect(seen).toEqual(["echo", "echo"]);
    expect(h.sent.map((s) => s.out.text)).toEqual(["echo: ok"]);
  });

  test("messages not addressed to the bot are ignored", async () => {
    const h = harness();
    await h.handler(msg("echo hi"));
    await h.handler(msg("!"));
    expect(h.sent).toEqual([]);
  });
});
