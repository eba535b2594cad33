/**
 * The XMPP backend against a real prosody on loopback (scripts/prosody.ts): the shared contract,
 * then what is XMPP's own (MUC passwords, history replay, echoes, occupants, whispers, JID forms,
 * XHTML-IM on the wire, reconnect after a server restart). People are driven by a second
 * @xmpp/client, as a person's chat client would.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { xml, type XmlElement } from "@xmpp/client";
import { ConfigSchema } from "../../src/config/schema.ts";
import { ConfigError, SendError } from "../../src/lib/errors.ts";
import { Backoff } from "../../src/lib/backoff.ts";
import { captureLogs } from "../../src/lib/log.ts";
import type { ChatBackend, Message } from "../../src/chat/types.ts";
import { createXmppBackend } from "../../src/chat/xmpp/index.ts";
import { messageColor, toPlainText } from "../../src/chat/xmpp/format.ts";
import { parseJid } from "../../src/chat/xmpp/jid.ts";
import { NS } from "../../src/chat/xmpp/ns.ts";
import { stripLeadingName as stripMention } from "../../src/chat/mention.ts";
import { prosodyForFile, reportProsodyMissing } from "../support/prosody.ts";
import { type Delivered, runBackendContract } from "./contract.ts";
import { XmppPerson } from "../support/xmpp-person.ts";
import { eventually, waitFor } from "../support/wait.ts";

const USERS = { bot: "botpw", bot2: "bot2pw", alice: "alicepw", bob: "bobpw" };
const MUC = "conference.localhost";
const logLines: string[] = [];
const restoreLogs = captureLogs((line) => logLines.push(line));

const { server, skipReason } = await prosodyForFile({ users: USERS });
afterAll(() => restoreLogs());

const fast = () => ({ backoff: new Backoff({ initialMs: 200, maxMs: 1_000 }), joinTimeoutMs: 5_000, joinRetryMs: 1_000 });

function xmppConfig(account: string, rooms: Array<{ jid: string; password?: string; nick?: string }>, password = USERS[account as keyof typeof USERS]) {
  return {
    ...v.parse(ConfigSchema, {}),
    xmpp: { service: server!.service, jid: `${account}@localhost`, password, resource: "st2bot", rooms },
  };
}

/** A person's chat client logged in as `username` on the test server. */
const connect = (username: keyof typeof USERS, resource?: string) =>
  XmppPerson.connect({ service: server!.service, username, password: USERS[username], resource });

/** Messages `person` got from `botBare` directly or from one of `roomNicks` (`room/nick`), live ones only. */
function fromBot(person: XmppPerson, botBare: string, roomNicks: string[]): Delivered[] {
  return person.received
    .filter((m) => m.attrs.type !== "error" && m.getChildText("body") !== null && !m.getChild("delay", NS.delay))
    .filter((m) => m.attrs.from?.split("/")[0] === botBare || roomNicks.includes(m.attrs.from ?? ""))
    .map((m) => ({
      to: m.attrs.type === "groupchat" ? m.attrs.from!.split("/")[0]! : m.attrs.to!.split("/")[0]!,
      text: m.getChildText("body") ?? "",
      rich: m.getChild("html", NS.xhtmlIm),
    }));
}

if (skipReason) {
  reportProsodyMissing(skipReason, "XMPP tests");
} else {
  const OPS = `ops@${MUC}`;
  runBackendContract("xmpp", async () => {
    const alice = await connect("alice");
    await alice.joinRoom(OPS, "alice", { password: "s3cret", create: { password: "s3cret", whois: "anyone", persistent: true } });
    const backend = createXmppBackend(xmppConfig("bot", [{ jid: OPS, password: "s3cret" }]), fast());
    return {
      backend,
      userSays: (text, where) => (where.room ? alice.say(where.room, text) : alice.dm("bot@localhost", text)),
      delivered: () => fromBot(alice, "bot@localhost", [`${OPS}/st2bot`]),
      room: { st2Name: OPS, deliveredTo: OPS },
      // err-stackstorm sends str(msg.frm): the full JID in a direct chat.
      user: { st2Name: "alice@localhost/harness", deliveredTo: "alice@localhost" },
      dropConnection: () => server!.restart(),
      // A frozen server keeps its socket open: the bytes are written, but nobody handled them.
      stall: async (ms) => {
        await server!.freeze();
        setTimeout(() => void server!.thaw(), ms);
      },
      teardown: () => alice.close(),
    };
  });

  describe("xmpp backend on prosody", () => {
    const WAR = `war@${MUC}`; // non-anonymous, password-protected
    const DEV = `dev@${MUC}`; // semi-anonymous: participants do not see real JIDs
    const LOCKED = `locked@${MUC}`; // the bot has the wrong password
    const FRESH = `fresh@${MUC}`; // does not exist until the bot creates it
    const BOT_IN = (room: string) => `${room}/st2bot`;
    let alice: XmppPerson;
    let bob: XmppPerson;
    let bot: ChatBackend;
    const inbox: Message[] = [];
    const received = (text: string) => waitFor(`bot receives "${text}"`, () => inbox.find((m) => m.text.includes(text)));

    beforeAll(async () => {
      alice = await connect("alice", "desk");
      bob = await connect("bob");
      await alice.joinRoom(WAR, "alice", { password: "w4r", create: { password: "w4r", whois: "anyone", persistent: true } });
      await alice.joinRoom(DEV, "alice", { create: { persistent: true } });
      await alice.joinRoom(LOCKED, "alice", { password: "right", create: { password: "right", persistent: true } });
      // Said before the bot is there: the room keeps it as history and replays it to joiners.
      await alice.say(WAR, "!st2 old command from history");
      await alice.message("old command from history");
      bot = createXmppBackend(
        xmppConfig("bot2", [
          { jid: WAR, password: "w4r" },
          { jid: DEV },
          { jid: LOCKED, password: "wrong-pass-7731" },
          { jid: FRESH, password: "fr3sh" },
        ]),
        fast(),
      );
      await bot.start((m) => {
        inbox.push(m);
      });
    }, 30_000);

    afterAll(async () => {
      await bot?.stop();
      await alice?.close();
      await bob?.close();
    });

    test("joins password-protected rooms and ignores the history they replay", async () => {
      expect(bot.status().state).toBe("connected");
      await alice.say(WAR, "!st2 fresh command");
      const m = await received("fresh command");
      expect(m.room).toEqual({ id: WAR, name: WAR });
      expect(inbox.some((x) => x.text.includes("old command"))).toBe(false);
      // The history was really there: a client that does not decline it gets it, delayed.
      await bob.joinRoom(WAR, "bob", { password: "w4r" });
      const old = await bob.message("old command from history");
      expect(old.getChild("delay", NS.delay)).toBeDefined();
    });

    test("names room senders by occupant JID, with the real JID as ACL id where the room shows it", async () => {
      await alice.say(WAR, "!st2 who am i in war");
      const war = await received("who am i in war");
      // The account (what a StackStorm login is keyed on) is the real JID, never the nick.
      expect(war.from).toEqual({ id: `${WAR}/alice`, nick: "alice", aclId: "alice@localhost", st2User: `${WAR}/alice`, account: "alice@localhost" });
      expect(war.direct).toBe(false);
      expect(bot.sourceChannel(war)).toBe(WAR);
      expect(bot.replyTarget(war)).toMatchObject({ kind: "room", id: WAR });

      await alice.say(DEV, "!st2 who am i in dev");
      const dev = await received("who am i in dev");
      // Semi-anonymous room: the nick alone must not pass for alice@localhost in ACLs.
      expect(dev.from.aclId).toBe(`${DEV}/alice`);
      // …nor own a StackStorm login: the room hides who this is (session_start refuses).
      expect(dev.from.account).toBeNull();
      expect(dev.from.st2User).toBe(`${DEV}/alice`);
      expect(bot.sourceChannel(dev)).toBe(DEV);
    });

    test("names direct senders as Errbot does and answers on the same client", async () => {
      await alice.dm("bot2@localhost", "!st2 direct identity");
      const m = await received("direct identity");
      expect(m.direct).toBe(true);
      expect(m.room).toBeUndefined();
      expect(m.from).toEqual({ id: "alice@localhost", nick: "alice", aclId: "alice@localhost", st2User: "alice@localhost/desk" });
      expect(bot.sourceChannel(m)).toBe("alice@localhost/desk");
      await bot.send(bot.replyTarget(m), { text: "direct answer" });
      const answer = await alice.message("direct answer");
      expect(answer.attrs.type).toBe("chat");
      expect(answer.attrs.to).toBe("alice@localhost/desk");
    });

    test("a leading mention addresses the bot and is stripped", async () => {
      await alice.say(WAR, "st2bot: !st2 status please");
      await alice.say(WAR, "no mention here");
      const addressed = await received("status please");
      const plain = await received("no mention here");
      expect(addressed.text).toBe("!st2 status please");
      expect(addressed.mentioned).toBe(true);
      expect(plain.mentioned).toBe(false);
      expect(bot.botNames()).toContain("st2bot");
    });

    test("ignores its own echo in a room", async () => {
      await bot.send({ kind: "room", id: WAR }, { text: "!st2 said by the bot itself" });
      await alice.message("said by the bot itself");
      await alice.say(WAR, "marker after echo");
      await received("marker after echo");
      expect(inbox.some((m) => m.text.includes("said by the bot itself"))).toBe(false);
    });

    test("ignores delayed direct messages (offline storage, replays)", async () => {
      const delay = xml("delay", { xmlns: NS.delay, from: "localhost", stamp: "2020-01-01T00:00:00Z" });
      await alice.dm("bot2@localhost", "!st2 stale direct command", delay);
      await alice.dm("bot2@localhost", "!st2 live direct command");
      await received("live direct command");
      expect(inbox.some((m) => m.text.includes("stale direct command"))).toBe(false);
    });

    test("private messages through a room arrive as direct and are answered (whispered) through it", async () => {
      await alice.dm(BOT_IN(WAR), "!st2 psst from the room");
      const m = await received("psst from the room");
      expect(m.direct).toBe(true);
      expect(m.from).toMatchObject({ id: `${WAR}/alice`, aclId: "alice@localhost", st2User: `${WAR}/alice` });
      expect(bot.sourceChannel(m)).toBe(`${WAR}/alice`);
      await bot.send(bot.replyTarget(m), { text: "psst back" });
      const back = await alice.message("psst back");
      expect(back.attrs).toMatchObject({ type: "chat", from: BOT_IN(WAR) });

      await bot.send(await bot.resolve("user", `${WAR}/alice`), { text: "whisper via resolve" });
      expect((await alice.message("whisper via resolve")).attrs.from).toBe(BOT_IN(WAR));
    });

    test("resolves every form StackStorm sends back", async () => {
      const user = (id: string) => ({ kind: "user", id });
      expect(await bot.resolve("user", "alice")).toMatchObject(user("alice@localhost"));
      expect(await bot.resolve("user", "@alice")).toMatchObject(user("alice@localhost"));
      expect(await bot.resolve("user", "ALICE@LocalHost")).toMatchObject(user("alice@localhost"));
      expect(await bot.resolve("user", "alice@localhost/desk")).toMatchObject(user("alice@localhost/desk"));
      expect(await bot.resolve("channel", "alice@localhost/desk")).toMatchObject(user("alice@localhost/desk"));
      expect(await bot.resolve("channel", `${WAR}/alice`)).toMatchObject(user(`${WAR}/alice`));
      for (const name of [WAR, "war", "#war", "War@Conference.Localhost"]) {
        expect(await bot.resolve("channel", name)).toMatchObject({ kind: "room", id: WAR });
      }
      for (const [i, form] of ["alice", "alice@localhost", "alice@localhost/desk"].entries()) {
        await bot.send(await bot.resolve("user", form), { text: `form ${i} reached` });
        expect((await alice.message(`form ${i} reached`)).attrs.type).toBe("chat");
      }
      const refused = async (kind: "user" | "channel", value: string) => {
        const err = await bot.resolve(kind, value).then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(SendError);
        expect((err as SendError).retryable).toBe(false);
      };
      await refused("channel", `nope@${MUC}`);
      await refused("channel", "nope");
      await refused("user", WAR); // a room is not a person: never whisper into a room
      await refused("user", `nope@${MUC}/alice`);
      await refused("user", "not a jid");
      await refused("channel", "");
    });

    test("rich text degrades to clean plain text; a colour adds escaped XHTML-IM on the wire", async () => {
      const text = '**Deploy** done, see <https://ci.example/42|details>\n```\nline <1> & "two"\n  indented\n```';
      await bot.send({ kind: "user", id: "alice@localhost" }, { text, extra: { color: "danger" } });
      const m = await alice.message("Deploy");
      const body = m.getChildText("body");
      expect(body).toBe('Deploy done, see details (https://ci.example/42)\nline <1> & "two"\n  indented');
      const html = m.getChild("html", NS.xhtmlIm);
      const span = html?.getChild("body", NS.xhtml)?.getChild("p")?.getChild("span");
      expect(span?.attrs.style).toBe("color: #a30200");
      // The markup-looking text arrives as text, not as elements.
      expect(span?.children.filter((c) => typeof c !== "string").map((c) => (c as XmlElement).name)).toEqual(["br", "br"]);
      expect(span?.getText()).toBe(body!.replace(/\n/g, ""));

      await bot.send({ kind: "user", id: "alice@localhost" }, { text: "<script>alert(1)</script> no colour" });
      const plain = await alice.message("no colour");
      expect(plain.getChildText("body")).toBe("<script>alert(1)</script> no colour");
      expect(plain.getChild("html", NS.xhtmlIm)).toBeUndefined();

      await bot.send({ kind: "user", id: "alice@localhost" }, { text: "odd colour", extra: { color: "red;background:url(x)" } });
      expect((await alice.message("odd colour")).getChild("html", NS.xhtmlIm)).toBeUndefined();
    });

    test("a room refusing the password is reported, and the other rooms still work", async () => {
      expect(bot.status().state).toBe("connected");
      expect(bot.status().detail).toContain(LOCKED);
      expect(bot.status().detail).toContain("not-authorized");
      const err = await bot.send(await bot.resolve("channel", LOCKED), { text: "lost?" }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(SendError);
      expect((err as SendError).retryable).toBe(true);
      expect(logLines.join("\n")).not.toContain("wrong-pass-7731");
      expect(logLines.filter((l) => l.includes(`cannot join ${LOCKED}`))).toHaveLength(1);
    });

    test("creates a missing room and protects it with the configured password", async () => {
      await expect(bob.joinRoom(FRESH, "bob")).rejects.toThrow("not-authorized");
      await bob.joinRoom(FRESH, "bob", { password: "fr3sh" });
      await bob.say(FRESH, "!st2 in the fresh room");
      expect((await received("in the fresh room")).room?.id).toBe(FRESH);
    });

    test("goes offline with the server, comes back and rejoins its rooms", async () => {
      await server!.halt();
      await waitFor("disconnected", () => bot.status().state === "disconnected", 15_000);
      const down = await bot.send({ kind: "room", id: WAR }, { text: "while down" }).then(() => undefined, (e: unknown) => e);
      expect(down).toBeInstanceOf(SendError);
      expect((down as SendError).retryable).toBe(true);
      await server!.start();
      await waitFor("reconnected", () => bot.status().state === "connected", 20_000);
      // alice's client reconnects on its own; speak until each room carries messages again.
      for (const room of [WAR, DEV]) {
        let attempt = 0;
        const m = await eventually(`a message in ${room} after the restart`, async () => {
          const text = `back in ${room} ${attempt++}`;
          await alice.say(room, text);
          return waitFor(text, () => inbox.find((x) => x.text === text), 1_500);
        });
        expect(m.room?.id).toBe(room);
      }
      await bot.send({ kind: "room", id: WAR }, { text: "bot is back" });
      await alice.message("bot is back");
    }, 60_000);

    test("notices a server that hangs without closing the connection (keepalive pings)", async () => {
      const watcher = createXmppBackend(xmppConfig("bot", [{ jid: DEV }]), { ...fast(), pingIntervalMs: 300, pingTimeoutMs: 700, connectTimeoutMs: 2_000 });
      const seen: Message[] = [];
      await watcher.start((m) => {
        seen.push(m);
      });
      try {
        expect(watcher.status().state).toBe("connected");
        await server!.freeze();
        try {
          await waitFor("the hung server noticed", () => watcher.status().state === "disconnected", 10_000);
        } finally {
          await server!.thaw();
        }
        await waitFor("reconnected", () => watcher.status().state === "connected", 20_000);
        let attempt = 0;
        await eventually("a room message after the hang", async () => {
          const text = `after the hang ${attempt++}`;
          await alice.say(DEV, text);
          return waitFor(text, () => seen.find((m) => m.text === text), 1_500);
        });
      } finally {
        await watcher.stop();
      }
    }, 60_000);

    test("a refused login rejects start with a ConfigError that does not carry the password", async () => {
      const wrong = createXmppBackend(xmppConfig("bot", [], "not-the-password-1234"), fast());
      const err = await wrong.start(() => undefined).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).not.toContain("not-the-password-1234");
      expect(wrong.status().state).toBe("stopped");
      expect(logLines.join("\n")).not.toContain("not-the-password-1234");
    });

    test("stop() ends the session and says so", async () => {
      const other = createXmppBackend(xmppConfig("bot", []), fast());
      await other.start(() => undefined);
      expect(other.status().state).toBe("connected");
      await other.stop();
      expect(other.status().state).toBe("stopped");
      await expect(other.send({ kind: "user", id: "alice@localhost" }, { text: "after stop" })).rejects.toBeInstanceOf(SendError);
    });
  });
}

describe("xmpp text and address helpers", () => {
  test("parseJid normalises and rejects what is not a JID", () => {
    expect(parseJid("Alice@LocalHost/Desk")).toEqual({ local: "alice", domain: "localhost", resource: "Desk", bare: "alice@localhost", full: "alice@localhost/Desk" });
    expect(parseJid("room@conference.example.com/nick with space")?.resource).toBe("nick with space");
    for (const bad of ["", "a@", "@b", "a b@c", "a@b@c", "a@b/"]) expect(parseJid(bad)).toBeUndefined();
  });

  test("toPlainText keeps code verbatim and removes only broken-looking markup", () => {
    expect(toPlainText("```json\n{\"a\": **1**}\n```")).toBe('{"a": **1**}');
    expect(toPlainText("run `ls *.txt` and **wait** for _file_name_")).toBe("run `ls *.txt` and wait for _file_name_");
    expect(toPlainText("[docs](https://docs.example) <https://x.example>")).toBe("docs (https://docs.example) https://x.example");
    expect(toPlainText("inline ```code``` here")).toBe("inline code here");
  });

  test("messageColor accepts colours only", () => {
    expect(messageColor({ color: "good" })).toBe("#2eb886");
    expect(messageColor({ color: "36a64f" })).toBe("#36a64f");
    expect(messageColor({ slack: { color: "#FF0000" } })).toBe("#FF0000");
    expect(messageColor({ color: "red" })).toBe("red");
    expect(messageColor({ color: "red; background: url(x)" })).toBeUndefined();
    expect(messageColor({ color: 3 })).toBeUndefined();
    expect(messageColor(undefined)).toBeUndefined();
  });

  test("stripMention recognises the usual XMPP address forms", () => {
    expect(stripMention("st2bot: deploy x", ["st2bot"])).toEqual({ text: "deploy x", mentioned: true });
    expect(stripMention("@St2Bot, deploy x", ["st2bot"])).toEqual({ text: "deploy x", mentioned: true });
    expect(stripMention("st2botty deploy", ["st2bot"])).toEqual({ text: "st2botty deploy", mentioned: false });
  });
});
