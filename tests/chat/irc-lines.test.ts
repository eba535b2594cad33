/**
 * The IRC backend's pure parts, without a server: the 512-byte line budget and its UTF-8-safe
 * split, IRC formatting, identity strings and targets, and the PING-confirmed, windowed sender.
 */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { channelsOf, irc } from "../../src/chat/irc/settings.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { BACKEND_SECTIONS } from "../../src/chat/registry.ts";
import { redact } from "../../src/lib/log.ts";
import { SendError } from "../../src/lib/errors.ts";
import { ircColor, renderIrc, sanitize } from "../../src/chat/irc/format.ts";
import { identityOf, messageOf, nickOf, resolveTarget } from "../../src/chat/irc/identity.ts";
import { stripLeadingName as stripMention } from "../../src/chat/mention.ts";
import { checkAccess, isAdmin } from "../../src/bot/acl.ts";
import { byteLength, splitLines, textBudget } from "../../src/chat/irc/lines.ts";
import { Sender } from "../../src/chat/irc/sender.ts";
import { Owners } from "../../src/chat/irc/owners.ts";

async function waitUntil(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await Bun.sleep(5);
}

const noBreaks = (s: string) => s.replace(/ /g, "");

describe("irc line budget and split", () => {
  test("the budget is 512 bytes minus the relayed prefix, worst case until the server showed our mask", () => {
    expect(textBudget({ nick: "st2bot", user: "~st2bot", host: "127.0.0.1" }, "#ops")).toBe(512 - byteLength(":st2bot!~st2bot@127.0.0.1 PRIVMSG #ops :\r\n"));
    expect(textBudget({ nick: "st2bot" }, "#ops")).toBe(512 - byteLength(`:st2bot!${"u".repeat(11)}@${"h".repeat(63)} PRIVMSG #ops :\r\n`));
  });

  test("every piece fits in bytes, no character is cut, nothing is lost but the spaces broken at", () => {
    const text = Array.from({ length: 200 }, (_, i) => `ü${i}日本👩‍👩‍👧`).join(" ") + " " + "é".repeat(700);
    for (const budget of [17, 50, 100, 400]) {
      const lines = splitLines(text, budget);
      for (const l of lines) {
        expect(byteLength(l)).toBeLessThanOrEqual(budget);
        // A cut inside a surrogate pair would leave a lone surrogate; inside a ZWJ family, a dangling joiner.
        expect(l).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
        // A family emoji (18 bytes) stays whole wherever it fits on a line at all.
        if (budget >= 30) expect(l).not.toMatch(/^\u200D|\u200D$/);
      }
      expect(noBreaks(lines.join(""))).toBe(noBreaks(text));
    }
  });

  test("a bold or coloured span cut in two is opened again on the next line; a colour code is never cut", () => {
    const lines = splitLines(`\x0304${"a".repeat(30)} \x02${"b".repeat(30)}\x02 tail`, 24);
    expect(lines[0]!.startsWith("\x0304")).toBe(true);
    const firstBold = lines.findIndex((l) => l.includes("\x02"));
    for (const l of lines.slice(firstBold + 1).filter((x) => x.includes("b"))) expect(l).toMatch(/^\x0304\x02/);
    expect(lines.at(-1)!.startsWith("\x0304")).toBe(true);
    expect(lines.at(-1)!.replace(/\x03\d\d|\x02/g, "")).toBe("tail");
    for (const l of lines) expect(l).not.toMatch(/\x03\d?$/);
  });

  test("empty lines are dropped (IRC cannot send them); a grapheme longer than a line falls back to code points", () => {
    expect(splitLines("a\n\n   \nb", 100)).toEqual(["a", "b"]);
    const zalgo = "e" + "\u0301".repeat(300);
    const lines = splitLines(zalgo, 100);
    for (const l of lines) expect(byteLength(l)).toBeLessThanOrEqual(100);
    expect(lines.join("")).toBe(zalgo);
  });
});

describe("irc formatting", () => {
  test("bold, links and code fences; extra.color on every line", () => {
    expect(renderIrc({ text: "**up** see <https://x.io|docs> and [y](https://y.io)\n```\n**raw**\n```" })).toBe("\x02up\x02 see docs (https://x.io) and y (https://y.io)\n**raw**");
    expect(renderIrc({ text: "a\nb", extra: { color: "danger" } })).toBe("\x0304a\n\x0304b");
    expect(ircColor({ slack: { color: "#ff0000" } })).toBe(4);
    expect(ircColor({ color: "url(javascript:x)" })).toBeUndefined();
  });

  test("NUL, CR, \\x01 and other controls never reach the wire; tabs become spaces", () => {
    expect(sanitize("a\r\nb\0c\x01ACTION x\x01\td\x07")).toBe("a\nbcACTION x    d");
  });
});

describe("irc identities and targets", () => {
  const known = (n: string) => (n.toLowerCase() === "#ops" ? "#ops" : undefined);

  test("user and channel strings, err-stackstorm's legacy mask included", () => {
    expect(resolveTarget("user", "alice", known)).toEqual({ kind: "user", id: "alice", name: "alice" });
    expect(resolveTarget("user", "alice!~alice@host.example", known)).toMatchObject({ kind: "user", id: "alice" });
    expect(resolveTarget("channel", "#OPS", known)).toEqual({ kind: "room", id: "#ops", name: "#ops" });
    // The source_channel of a private message is the sender's nick.
    expect(resolveTarget("channel", "alice", known)).toMatchObject({ kind: "user", id: "alice" });
    expect(nickOf("a b")).toBeUndefined();
  });

  test("unknown channels and anything that could inject a command are non-retryable errors", () => {
    for (const [kind, value] of [["channel", "#elsewhere"], ["user", "bob\r\nQUIT"], ["user", "bob :x"], ["channel", "#ops,#x"], ["user", ""]] as const) {
      let err: unknown;
      try {
        resolveTarget(kind, value, known);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SendError);
      expect((err as SendError).retryable).toBe(false);
    }
  });

  test("formatting people's clients add is removed before matching; our own lines and untracked channels are ignored", () => {
    const e = { nick: "alice", ident: "~a", hostname: "h", target: "#ops", message: "\x02st2bot\x02: !st2 \x0304run\x03 uptime" };
    expect(messageOf(e, "st2bot", ["st2bot"], known)).toMatchObject({ text: "!st2 run uptime", mentioned: true, room: { id: "#ops" } });
    expect(messageOf({ ...e, nick: "ST2BOT" }, "st2bot", ["st2bot"], known)).toBeUndefined();
    expect(messageOf({ ...e, target: "#other" }, "st2bot", ["st2bot"], known)).toBeUndefined();
    expect(messageOf({ ...e, target: "someoneelse" }, "st2bot", ["st2bot"], known)).toBeUndefined();
  });

  test("`st2bot: cmd` and `st2bot, cmd` address the bot, `st2botx` does not", () => {
    expect(stripMention("st2bot: run x", ["st2bot"])).toEqual({ text: "run x", mentioned: true });
    expect(stripMention("St2Bot, run x", ["st2bot"])).toEqual({ text: "run x", mentioned: true });
    expect(stripMention("st2botx run", ["st2bot"]).mentioned).toBe(false);
  });
});

describe("irc sender", () => {
  function fake() {
    const writes: string[][] = [];
    let dead = 0;
    const sender = new Sender({ write: (l) => void writes.push(l), unresponsive: () => void dead++ }, { pongTimeoutMs: 200 });
    const token = (w: string[]) => w.at(-1)!.replace("PING :", "");
    return { writes, sender, token, dead: () => dead };
  }

  test("writes at most 2 lines and 1000 bytes before a PING, resolves only on the PONG, in order", async () => {
    const { writes, sender, token } = fake();
    sender.start();
    let done = 0;
    const a = sender.send("#ops", ["1", "2", "3"]).then(() => done++);
    const b = sender.send("#ops", ["x".repeat(480), "y".repeat(480)]).then(() => done++);
    expect(writes).toEqual([["PRIVMSG #ops :1", "PRIVMSG #ops :2", "PING :st2bot-1"]]);
    await Bun.sleep(0);
    expect(done).toBe(0);
    sender.onPong("st2bot-99"); // a PONG that is not ours confirms nothing
    expect(writes).toHaveLength(1);
    for (let i = 0; i < 10 && writes.length === i + 1; i++) {
      const w = writes[i]!;
      expect(w.length - 1).toBeLessThanOrEqual(2);
      expect(w.reduce((n, l) => n + byteLength(l) + 2, 0)).toBeLessThanOrEqual(1000);
      sender.onPong(token(w));
    }
    await Promise.all([a, b]);
    expect(done).toBe(2);
    expect(writes.flat().filter((l) => l.startsWith("PRIVMSG")).map((l) => l.slice(14, 15))).toEqual(["1", "2", "3", "x", "y"]);
  });

  test("a refusal before the PONG fails that message (401 for good, 404 retryable); a lost connection fails the rest retryably", async () => {
    const { writes, sender, token } = fake();
    sender.start();
    const nobody = sender.send("nobody", ["hi"]).catch((e: SendError) => e);
    const ops = sender.send("#ops", ["hi"]).catch((e: SendError) => e);
    sender.onNumeric("401", ["me", "nobody", "No such nick or channel name"]);
    sender.onNumeric("404", ["me", "#ops", "Cannot send to channel"]);
    sender.onPong(token(writes[0]!));
    expect(await nobody).toMatchObject({ retryable: false });
    expect(await ops).toMatchObject({ retryable: true });
    const lost = sender.send("#ops", ["later"]).catch((e: SendError) => e);
    sender.reset("connection closed");
    expect(await lost).toMatchObject({ retryable: true });
    expect(await sender.send("#ops", ["down"]).catch((e: SendError) => e)).toMatchObject({ retryable: true });
  });

  test("echo-message: a cut echo shrinks the budget (bounded); a colour-stripped or empty echo does not", async () => {
    const cuts: number[] = [];
    const writes: string[][] = [];
    const sender = new Sender({ write: (l) => void writes.push(l), unresponsive: () => undefined, truncated: (_t, lost) => void cuts.push(lost) });
    sender.start(true);
    const sent = sender.send("#ops", ["\x0304red text", "x".repeat(400)]);
    sender.onEcho("#ops", "red text"); // +c stripped the colour: not a cut
    sender.onEcho("#OPS", "x".repeat(390));
    sender.onPong(writes[0]!.at(-1)!.replace("PING :", ""));
    await sent;
    expect(cuts).toEqual([10]);
    expect(sender.budgetCut).toBe(10);
    const again = sender.send("#ops", ["y".repeat(400)]);
    sender.onEcho("#ops", "");
    sender.onEcho("#ops", "y");
    sender.onPong(writes[1]!.at(-1)!.replace("PING :", ""));
    await again;
    expect(sender.budgetCut).toBe(150);
  });

  test("more than about 10 s of queued lines: a new message is turned away as a rate limit with retryAfterMs", async () => {
    const { sender } = fake();
    sender.start();
    const first = sender.send("#ops", Array.from({ length: 100 }, (_, i) => `line ${i}`)).catch(() => undefined);
    const err = await sender.send("#ops", ["one more"]).catch((e: SendError) => e);
    expect(err).toBeInstanceOf(SendError);
    expect(err).toMatchObject({ retryable: true });
    expect((err as SendError).retryAfterMs).toBeGreaterThan(1_000);
    sender.reset("test over");
    await first;
  });

  test("lines_per_second: one line per window, spaced by the interval", async () => {
    const writes: Array<{ at: number; lines: string[] }> = [];
    const sender = new Sender({ write: (l) => void writes.push({ at: performance.now(), lines: l }), unresponsive: () => undefined }, { linesPerSecond: 20 });
    sender.start();
    const done = sender.send("#ops", ["a", "b", "c"]);
    for (let i = 0; i < 3; i++) {
      await waitUntil(() => writes.length === i + 1);
      sender.onPong(writes[i]!.lines.at(-1)!.replace("PING :", ""));
    }
    await done;
    expect(writes.map((w) => w.lines.length)).toEqual([2, 2, 2]);
    expect(writes[2]!.at - writes[0]!.at).toBeGreaterThanOrEqual(95);
  });

  test("no PONG in time: the connection is declared dead and the message fails retryably", async () => {
    const { sender, dead } = fake();
    sender.start();
    expect(await sender.send("#ops", ["hi"]).catch((e: SendError) => e)).toMatchObject({ retryable: true });
    expect(dead()).toBe(1);
  });
});

describe("irc hostmask ACL rules", () => {
  const req = (nick: string, host: string | undefined) => ({
    plugin: "St2",
    command: "st2",
    typed: "st2 deploy",
    args: "deploy",
    senderAcl: nick,
    ...(host ? { senderMask: `${nick}!~${nick}@${host}` } : {}),
    direct: true,
    isAdmin: false,
    adminOnly: false,
  });
  const rules = { st2: { allowusers: ["alice!*@*.trusted.example", "bob"] } };

  test("a glob with ! matches the nick!user@host mask, any other glob the nick", () => {
    expect(checkAccess(req("alice", "vpn.trusted.example"), rules, undefined, []).allowed).toBe(true);
    // Someone else took the nick from another host: the mask rule does not let them in.
    expect(checkAccess(req("alice", "evil.example"), rules, undefined, []).allowed).toBe(false);
    expect(checkAccess(req("bob", "anywhere.example"), rules, undefined, []).allowed).toBe(true);
    // Services without masks (Slack, XMPP, ...): a ! glob never matches; nothing else changes.
    expect(checkAccess(req("alice", undefined), rules, undefined, []).allowed).toBe(false);
    expect(checkAccess(req("alice", "x.example"), { st2: { denyusers: ["*!*@x.example"] } }, undefined, []).allowed).toBe(false);
  });

  test("bot.admins takes mask globs too", () => {
    expect(isAdmin("alice", ["alice!*@*.trusted.example"], "alice!~a@h.trusted.example")).toBe(true);
    expect(isAdmin("alice", ["alice!*@*.trusted.example"], "alice!~a@evil.example")).toBe(false);
    expect(isAdmin("alice", ["alice"])).toBe(true);
  });

  test("the IRC identity carries the mask beside the nick", () => {
    expect(identityOf({ nick: "alice", ident: "~al", hostname: "h.example", target: "#ops", message: "hi" })).toEqual({
      id: "alice!~al@h.example",
      nick: "alice",
      aclId: "alice",
      st2User: "alice",
      aclMask: "alice!~al@h.example",
    });
  });
});

describe("irc settings", () => {
  const parse = (s: Record<string, unknown>) => v.parse(irc.schema, s);

  test("missing() asks for the server; advice() warns about clear-text passwords, unverified TLS and doubled logins", () => {
    expect(irc.missing(parse({}))).toEqual(["irc.server"]);
    expect(irc.missing(parse({ server: "irc.example" }))).toEqual([]);
    const whats = (s: Record<string, unknown>) => (irc.advice?.(parse({ server: "irc.example", channels: ["#ops"], ...s })) ?? []).map((a) => a.what);
    expect(whats({})).toEqual([]);
    expect(whats({ tls: false, sasl_password: "x" })[0]).toContain("in clear");
    expect(whats({ tls_verify: false })[0]).toContain("tls_verify");
    expect(whats({ sasl_password: "a", nickserv_password: "b" })[0]).toContain("both set");
    expect(whats({ channels: [] })[0]).toContain("only answers direct messages");
  });

  test("channel names, keys and nicks that would break a command line are refused at load", () => {
    for (const bad of [{ channels: ["ops"] }, { channels: ["#a b"] }, { channels: [{ name: "#a", key: "k y" }] }, { nick: "bad nick" }, { nick: "9lives" }]) {
      expect(v.safeParse(irc.schema, { server: "irc.example", ...bad }).success).toBe(false);
    }
    expect(channelsOf(parse({ server: "s", channels: ["#a", { name: "#b", key: "k" }] }))).toEqual([{ name: "#a" }, { name: "#b", key: "k" }]);
  });
});

describe("irc nick owners", () => {
  test("unknown nicks pass; a nick change is followed; after a quit the nick is refused until its holder speaks", () => {
    const o = new Owners();
    expect(o.route("dave")).toBe("dave");
    o.spoke("alice", "alice!~a@home.example");
    o.renamed("alice", "alice_away", "alice!~a@home.example");
    expect(o.route("alice")).toBe("alice_away");
    // Someone else's NICK or QUIT (another user@host) changes nothing.
    o.quit("alice_away", "alice_away!~m@evil.example");
    expect(o.route("ALICE")).toBe("alice_away");
    o.quit("alice_away", "alice_away!~a@home.example");
    expect(() => o.route("alice")).toThrow(SendError);
    o.spoke("alice", "alice!~m@evil.example");
    expect(o.route("alice")).toBe("alice");
  });

  test("*_file secrets are read from their files and redacted from logs", () => {
    const dir = mkdtempSync(join(tmpdir(), "st2bot-irc-cfg-"));
    try {
      writeFileSync(join(dir, "sasl"), "sasl-from-file-4711\n");
      writeFileSync(join(dir, "srv"), "srv-from-file-4711\n");
      const config = parseConfig(
        `[bot]\nbackend = "irc"\n[irc]\nserver = "irc.example"\nsasl_password_file = "sasl"\nserver_password_file = "srv"\n`,
        join(dir, "st2bot.toml"),
        {},
        BACKEND_SECTIONS,
      );
      expect(config.irc).toMatchObject({ sasl_password: "sasl-from-file-4711", server_password: "srv-from-file-4711" });
      expect(redact("pw sasl-from-file-4711 / srv-from-file-4711")).toBe("pw *** / ***");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
