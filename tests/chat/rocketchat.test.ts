/**
 * The Rocket.Chat backend against a wire-level Rocket.Chat emulator (REST over HTTP, DDP over a
 * real WebSocket) on loopback.
 */
import { describe, expect, test } from "bun:test";
import { retryAfterMs } from "../../src/chat/rocketchat/errors.ts";
import { FAILURE_COLOR } from "../../src/chat/rocketchat/format.ts";
import { messageIdFor } from "../../src/chat/rocketchat/index.ts";
import type { ChatBackend } from "../../src/chat/types.ts";
import { SendError } from "../../src/lib/errors.ts";
import type { RocketChatEmulator } from "../emulators/rocketchat.ts";
import { type BackendHarness, runBackendContract, stallBy, startedBackend } from "./contract.ts";
import { emulator, backendFor, failure, textOf } from "./rocketchat-fixture.ts";


runBackendContract("rocketchat", async (): Promise<BackendHarness> => {
  const emu = emulator();
  return {
    backend: backendFor(emu),
    userSays: async (text, where) => void emu.userSays({ user: "alice", room: where.room ?? "@st2bot", text, ...(where.thread ? { tmid: where.thread } : {}) }),
    delivered: () => emu.received.map((m) => ({ to: emu.describeRoom(m.rid), thread: m.tmid, text: textOf(m), rich: m.attachments })),
    room: { st2Name: "#general", deliveredTo: "#general" },
    user: { st2Name: "@alice", deliveredTo: "@alice" },
    dropConnection: async () => emu.dropSockets(),
    stall: stallBy(emu),
    teardown: () => emu.stop(),
  };
});

describe("rocketchat backend", () => {
  let emu: RocketChatEmulator;
  let bot: ChatBackend;
  const { inbox, next } = startedBackend(() => (bot = backendFor((emu = emulator()))), () => emu.stop());

  describe("identities and rooms", () => {
    test("a room message is from @username, its source_channel the room id, its name #room", async () => {
      const sent = emu.userSays({ user: "alice", room: "#general", text: "!st2 id check" });
      const m = await next("id check");
      expect(m.from).toMatchObject({ id: emu.user("alice")._id, nick: "alice", fullName: "Alice Liddell", aclId: "@alice", st2User: "@alice" });
      expect(m.room).toEqual({ id: sent.rid, name: "#general" });
      expect(bot.sourceChannel(m)).toBe(emu.room("#general")._id);
      expect(m.direct).toBe(false);
    });

    test("a direct message's source_channel is its direct room, and the reply goes there without im.create", async () => {
      const sent = emu.userSays({ user: "bob", room: "@st2bot", text: "!st2 dm check" });
      const m = await next("dm check");
      expect(m.direct).toBe(true);
      expect(bot.sourceChannel(m)).toBe(sent.rid);
      const before = emu.requests.filter((r) => r.endsWith("im.create")).length;
      await bot.send(bot.replyTarget(m), { text: "dm reply" });
      expect(emu.received.at(-1)).toMatchObject({ rid: sent.rid, msg: "dm reply" });
      expect(emu.requests.filter((r) => r.endsWith("im.create")).length).toBe(before);
    });

    test("the bot's own messages, system messages, edits and repeats are not delivered", async () => {
      await bot.send({ kind: "room", id: emu.room("#general")._id }, { text: "!st2 from the bot itself" });
      emu.userSays({ user: "alice", room: "#general", text: "!st2 system", t: "uj" });
      const original = emu.userSays({ user: "alice", room: "#general", text: "!st2 original once" });
      emu.edit(original._id, "!st2 edited twice");
      emu.userSays({ user: "alice", room: "#general", text: "!st2 marker after" });
      await next("marker after");
      expect(inbox.filter((m) => /from the bot itself|system|edited twice/.test(m.text))).toEqual([]);
      expect(inbox.filter((m) => m.text.includes("original once"))).toHaveLength(1);
    });

    test("a public channel the bot is not in is streamed by the server but not answered", async () => {
      emu.userSays({ user: "alice", room: "#random", text: "!st2 not for the bot" });
      emu.userSays({ user: "alice", room: "#general", text: "!st2 marker two" });
      await next("marker two");
      expect(inbox.some((m) => m.text.includes("not for the bot"))).toBe(false);
    });

    test("a leading @mention is stripped and marks the message; the bot answers to its username", async () => {
      emu.userSays({ user: "alice", room: "#general", text: "@st2bot: st2 run it" });
      const m = await next("st2 run it");
      expect(m.text).toBe("st2 run it");
      expect(m.mentioned).toBe(true);
      expect(bot.botNames()).toContain("@st2bot");
    });
  });

  describe("threads", () => {
    test("a message in a thread carries tmid, and the reply goes back into it", async () => {
      const parent = emu.userSays({ user: "alice", room: "#general", text: "the web tier is slow" });
      emu.userSays({ user: "alice", room: "#general", text: "!st2 in thread", tmid: parent._id });
      const m = await next("in thread");
      expect(m.thread).toBe(parent._id);
      await bot.send(bot.replyTarget(m), { text: "thread answer" });
      expect(emu.received.at(-1)).toMatchObject({ tmid: parent._id, msg: "thread answer" });
    });
  });

  describe("StackStorm's strings", () => {
    const ids = () => ({ general: emu.room("#general")._id, alice: emu.user("alice")._id });
    test("channels by #name, bare name and id; users by @name, bare name and id", async () => {
      const { general, alice } = ids();
      for (const c of ["#general", "general", general]) expect(await bot.resolve("channel", c)).toEqual({ kind: "room", id: general, name: "#general" });
      for (const u of ["@alice", "alice", alice]) expect(await bot.resolve("user", u)).toEqual({ kind: "user", id: alice, name: "@alice" });
    });

    test("a direct room id resolves to that room", async () => {
      const dm = emu.directRoom("alice", "st2bot");
      expect(await bot.resolve("channel", dm._id)).toMatchObject({ kind: "room", id: dm._id });
    });

    test("names that name nothing, and rooms the bot may not see, are final errors", async () => {
      for (const [kind, v] of [["channel", "#nowhere"], ["user", "@nobody"], ["channel", "two words"], ["channel", "#secret"]] as const) {
        const err = await failure(bot.resolve(kind, v));
        expect(err).toBeInstanceOf(SendError);
        expect((err as SendError).retryable).toBe(false);
      }
    });
  });

  describe("rich messages on the wire", () => {
    const general = () => ({ kind: "room" as const, id: emu.room("#general")._id });
    test("plain text is msg without attachments", async () => {
      await bot.send(general(), { text: "*plain* text" });
      expect(emu.received.at(-1)).toMatchObject({ msg: "*plain* text" });
      expect(emu.received.at(-1)!.attachments).toBeUndefined();
    });

    test("extra.rocketchat and extra.color make one attachment; the {~} pretext is the msg", async () => {
      await bot.send(general(), { text: "Deploy{~}all green", extra: { color: "#2eb886", rocketchat: { title: "deploy", title_link: "https://st2.example.com/x", fields: [{ title: "host", value: 1, short: true }] } } });
      const m = emu.received.at(-1)!;
      expect(m.msg).toBe("Deploy");
      expect(m.attachments).toEqual([{ color: "#2eb886", text: "all green", title: "deploy", title_link: "https://st2.example.com/x", fields: [{ title: "host", value: "1", short: true }] }]);
    });

    test("a failed execution is coloured as a failure; javascript: links and unknown keys never reach the server", async () => {
      await bot.send(general(), { text: "status : failed", extra: { rocketchat: { title_link: "javascript:alert(1)", author_icon: "https://x.example/i.png", onclick: "x" } } });
      expect(emu.received.at(-1)!.attachments).toEqual([{ color: FAILURE_COLOR, text: "status : failed", author_icon: "https://x.example/i.png" }]);
    });
  });

  describe("sending once, limits and failures", () => {
    const general = () => ({ kind: "room" as const, id: emu.room("#general")._id });
    test("a send with an id uses chat.sendMessage with a stable _id of the server's form", async () => {
      await bot.send(general(), { text: "with id", id: "7.1733400000000.0" });
      const m = emu.received.at(-1)!;
      expect(m._id).toBe(messageIdFor(emu.user("st2bot")._id, "7.1733400000000.0"));
      expect(m._id).toMatch(/^[23456789A-HJ-NP-Za-km-z]{17}$/);
      expect(emu.requests.at(-1)).toBe("POST /api/v1/chat.sendMessage");
      expect(messageIdFor("anotherBotUser001", "7.1733400000000.0")).not.toBe(m._id);
    });

    for (const duplicateIdReply of ["error", "empty"] as const) {
      test(`a retry after a lost answer is posted once (server answers a repeated _id with ${duplicateIdReply === "error" ? "an error" : "no message"})`, async () => {
        const own = emulator({ duplicateIdReply });
        const b = backendFor(own);
        try {
          await b.start(() => undefined);
          const rid = own.room("#general")._id;
          own.loseReplies(1);
          const first = await failure(b.send({ kind: "room", id: rid }, { text: "exactly once", id: "42.1.0" }));
          expect((first as SendError).retryable).toBe(true);
          await b.send({ kind: "room", id: rid }, { text: "exactly once", id: "42.1.0" });
          expect(own.received.filter((m) => m.msg === "exactly once")).toHaveLength(1);
        } finally {
          await b.stop();
          await own.stop();
        }
      });
    }

    test("a refused send whose _id is not there is still an error", async () => {
      const err = await failure(bot.send({ kind: "room", id: "NoSuchRoom0000001" }, { text: "lost", id: "43.1.0" }));
      expect(err).toBeInstanceOf(SendError);
      expect((err as SendError).retryable).toBe(false);
    });

    test("a 429 is retryable and waits until X-RateLimit-Reset; the next send goes through", async () => {
      emu.inject429(1, 1500);
      const err = (await failure(bot.send(general(), { text: "limited" }))) as SendError;
      expect(err.retryable).toBe(true);
      expect(err.retryAfterMs).toBeGreaterThan(500);
      expect(err.retryAfterMs).toBeLessThanOrEqual(1500);
      await bot.send(general(), { text: "after the limit" });
      expect(emu.received.at(-1)!.msg).toBe("after the limit");
    });

    test("the reset is read on our clock, on the server's Date when the clocks disagree, then the error text, then one second", () => {
      const now = Date.parse("2026-12-05T16:00:00Z");
      const h = (x: Record<string, string>) => new Headers(x);
      expect(retryAfterMs(h({ "x-ratelimit-reset": String(now + 7250), date: new Date(now - 1000).toUTCString() }), "", now)).toBe(7250);
      expect(retryAfterMs(h({ "x-ratelimit-reset": String(now + 7000), date: new Date(now).toUTCString() }), "", now + 60_000)).toBe(7000);
      expect(retryAfterMs(h({}), "You must wait 12 seconds before trying this endpoint again.")).toBe(12_000);
      expect(retryAfterMs(h({}), "")).toBe(1000);
      expect(retryAfterMs(h({ "x-ratelimit-reset": String(now + 86_400_000), date: new Date(now).toUTCString() }), "")).toBe(600_000);
    });

    test("the message limit is the configured Message_MaxAllowedSize (5000 by default)", () => {
      expect(bot.maxMessageLength).toBe(5000);
    });
  });
});
