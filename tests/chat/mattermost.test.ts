/**
 * The Mattermost backend against a wire-level Mattermost emulator, driven through the real
 * `@mattermost/client` (Client4 over HTTP, WebSocketClient over a real WebSocket) on loopback.
 */
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { retryAfterMs } from "../../src/chat/mattermost/errors.ts";
import { FAILURE_COLOR } from "../../src/chat/mattermost/format.ts";
import type { ChatBackend } from "../../src/chat/types.ts";
import { SendError } from "../../src/lib/errors.ts";
import type { MattermostEmulator } from "../emulators/mattermost.ts";
import { type BackendHarness, runBackendContract, stallBy, startedBackend } from "./contract.ts";
import { emulator, backendFor, connected, failure, attachmentText } from "./mattermost-fixture.ts";


runBackendContract("mattermost", async (): Promise<BackendHarness> => {
  const emu = emulator();
  return {
    backend: backendFor(emu),
    userSays: async (text, where) => {
      emu.postAsUser({ user: "alice", channel: where.room ?? "@st2bot", message: text, root_id: where.thread });
    },
    delivered: () =>
      emu.received.map((p) => ({ to: emu.describeChannel(p.channel_id, "st2bot"), thread: p.root_id || undefined, text: p.message || attachmentText(p), rich: p.props })),
    room: { st2Name: "~town-square", deliveredTo: "~town-square" },
    user: { st2Name: "@alice", deliveredTo: "@alice" },
    dropConnection: async () => emu.dropSockets(),
    stall: stallBy(emu),
    teardown: () => emu.stop(),
  };
});

describe("mattermost backend", () => {
  let emu: MattermostEmulator;
  let bot: ChatBackend;
  const { inbox, next: said } = startedBackend(() => (bot = backendFor((emu = emulator()))), () => emu.stop(), connected);
  const lastPost = () => emu.received[emu.received.length - 1]!;

  describe("identities", () => {
    test("a room message carries Errbot's @username identity and err-stackstorm's ~channel source", async () => {
      emu.postAsUser({ user: "alice", channel: "~town-square", message: "!st2 who am i" });
      const m = await said("who am i");
      const alice = emu.user("alice");
      expect(m.from).toEqual({ id: alice.id, nick: "alice", fullName: "Alice Liddell", email: "alice@example.com", aclId: "@alice", st2User: "@alice" });
      expect(m.room).toEqual({ id: emu.channel("town-square").id, name: "~town-square" });
      expect(m.direct).toBe(false);
      expect(bot.sourceChannel(m)).toBe("~town-square");
      expect(bot.replyTarget(m)).toEqual({ kind: "room", id: emu.channel("town-square").id, name: "~town-square" });
    });

    test("a private channel is a room too", async () => {
      emu.postAsUser({ user: "alice", channel: "~ops", message: "!st2 private room" });
      const m = await said("private room");
      expect(m.room?.name).toBe("~ops");
      expect(bot.sourceChannel(m)).toBe("~ops");
    });

    test("a direct message's source channel is the sender, and replies go back to them", async () => {
      emu.postAsUser({ user: "alice", channel: "@st2bot", message: "!st2 in private" });
      const m = await said("in private");
      expect(m.direct).toBe(true);
      expect(m.room).toBeUndefined();
      expect(bot.sourceChannel(m)).toBe("@alice");
      await bot.send(bot.replyTarget(m), { text: "private reply" });
      expect(emu.describeChannel(lastPost().channel_id, "st2bot")).toBe("@alice");
    });

    test("a group message is a room named by its members, answered by channel id", async () => {
      const gm = emu.channel("gm0alice0bob0st2bot");
      emu.postAsUser({ user: "bob", channel: gm.id, message: "!st2 group chat" });
      const m = await said("group chat");
      expect(m.direct).toBe(false);
      expect(m.room).toEqual({ id: gm.id, name: "alice, bob, st2bot" });
      expect(bot.sourceChannel(m)).toBe(gm.id);
      await bot.send(await bot.resolve("channel", bot.sourceChannel(m)), { text: "to the group" });
      expect(lastPost().channel_id).toBe(gm.id);
    });

    test("someone with no full name or email still has an identity", async () => {
      emu.postAsUser({ user: "bob", channel: "~town-square", message: "!st2 bob speaks" });
      const m = await said("bob speaks");
      expect(m.from.nick).toBe("bob");
      expect(m.from.fullName).toBeUndefined();
      expect(m.from.aclId).toBe("@bob");
    });

    test("a post whose sender cannot be looked up is dropped, not guessed from sender_name", async () => {
      const mallory = emu.addUser({ username: "mallory" });
      emu.channel("town-square").members.add(mallory.id);
      emu.hideUser("mallory");
      emu.postAsUser({ user: "mallory", channel: "~town-square", message: "!st2 who knows me" });
      emu.postAsUser({ user: "alice", channel: "~town-square", message: "!st2 after mallory" });
      await said("after mallory");
      expect(inbox.some((m) => m.text.includes("who knows me"))).toBe(false);
    });

    test("the bot's own posts and system posts are not delivered", async () => {
      await bot.send(await bot.resolve("channel", "~town-square"), { text: "!st2 bot talking to itself" });
      emu.postAsUser({ user: "alice", channel: "~town-square", message: "alice joined the channel", type: "system_join_channel" });
      emu.postAsUser({ user: "alice", channel: "~town-square", message: "!st2 marker after" });
      await said("marker after");
      expect(inbox.some((m) => m.text.includes("bot talking to itself"))).toBe(false);
      expect(inbox.some((m) => m.text.includes("joined the channel"))).toBe(false);
    });
  });

  describe("mentions", () => {
    test("a leading @mention is stripped and marks the message as addressed", async () => {
      emu.postAsUser({ user: "alice", channel: "~town-square", message: "@st2bot: deploy web01" });
      const m = await said("deploy web01");
      expect(m.text).toBe("deploy web01");
      expect(m.mentioned).toBe(true);
    });

    test("a mention inside the text marks it without changing it", async () => {
      emu.postAsUser({ user: "alice", channel: "~town-square", message: "hey @st2bot. status please" });
      const m = await said("status please");
      expect(m.text).toBe("hey @st2bot. status please");
      expect(m.mentioned).toBe(true);
    });

    test("a message for someone else is not a mention of the bot", async () => {
      emu.postAsUser({ user: "alice", channel: "~town-square", message: "@st2botany !st2 not for you" });
      const m = await said("not for you");
      expect(m.mentioned).toBe(false);
      expect(m.text).toBe("@st2botany !st2 not for you");
    });

    test("a direct message addresses the bot", async () => {
      emu.postAsUser({ user: "alice", channel: "@st2bot", message: "!st2 dm mention" });
      expect((await said("dm mention")).mentioned).toBe(true);
    });

    test("the bot answers to its Mattermost username", () => {
      expect(bot.botNames()).toContain("st2bot");
      expect(bot.botNames()).toContain("@st2bot");
    });
  });

  describe("identifiers StackStorm sends back", () => {
    const lands = async (kind: "user" | "channel", value: string) => {
      await bot.send(await bot.resolve(kind, value), { text: `to ${kind} ${value}` });
      expect(lastPost().message).toBe(`to ${kind} ${value}`);
      return emu.describeChannel(lastPost().channel_id, "st2bot");
    };

    test("users: @name, name, user id and Errbot's ~room/user", async () => {
      const id = emu.user("alice").id;
      for (const form of ["@alice", "alice", id, "~town-square/alice"]) expect(await lands("user", form)).toBe("@alice");
    });

    test("channels: ~name, name, channel id, and a person's @name or id for a DM", async () => {
      expect(await lands("channel", "~ops")).toBe("~ops");
      expect(await lands("channel", "ops")).toBe("~ops");
      expect(await lands("channel", emu.channel("ops").id)).toBe("~ops");
      expect(await lands("channel", "~ops/alice")).toBe("~ops");
      expect(await lands("channel", "@alice")).toBe("@alice");
      expect(await lands("channel", emu.user("bob").id)).toBe("@bob");
      expect(await lands("channel", "bob")).toBe("@bob");
    });

    test("a DM channel id works as a channel", async () => {
      const dm = emu.directChannel(emu.user("st2bot").id, emu.user("bob").id);
      expect(await lands("channel", dm.id)).toBe("@bob");
    });

    test("targets carry readable names", async () => {
      expect(await bot.resolve("channel", "~ops")).toEqual({ kind: "room", id: emu.channel("ops").id, name: "~ops" });
      expect(await bot.resolve("user", "@bob")).toEqual({ kind: "user", id: emu.user("bob").id, name: "@bob" });
    });

    test("names that name nothing are non-retryable errors", async () => {
      for (const [kind, value] of [["user", "@nobody"], ["channel", "~nowhere"], ["channel", "nothing-at-all"], ["user", "zzzzzzzzzzzzzzzzzzzzzzzzzz"], ["user", "  "]] as const) {
        const err = await failure(bot.resolve(kind, value));
        expect(err).toBeInstanceOf(SendError);
        expect((err as SendError).retryable).toBe(false);
      }
    });

    test("a private channel the bot is not in cannot be resolved", async () => {
      const err = (await failure(bot.resolve("channel", emu.channel("secret").id))) as SendError;
      expect(err).toBeInstanceOf(SendError);
      expect(err.retryable).toBe(false);
    });

    test("a public channel the bot is not in refuses the post, for good", async () => {
      const target = await bot.resolve("channel", "~off-topic");
      const err = (await failure(bot.send(target, { text: "can I?" }))) as SendError;
      expect(err).toBeInstanceOf(SendError);
      expect(err.retryable).toBe(false);
      expect(err.message).toContain("403");
    });

    test("lookups are cached", async () => {
      await bot.resolve("channel", "~town-square");
      const before = emu.requests.filter((r) => r.endsWith("/channels/name/town-square")).length;
      await bot.resolve("channel", "~town-square");
      await bot.resolve("channel", "town-square");
      expect(emu.requests.filter((r) => r.endsWith("/channels/name/town-square")).length).toBe(before);
    });
  });

  describe("rich messages on the wire", () => {
    let room: Awaited<ReturnType<ChatBackend["resolve"]>>;
    beforeAll(async () => {
      room = await bot.resolve("channel", "~ops");
    });

    test("plain text is a plain post", async () => {
      await bot.send(room, { text: "**bold** text" });
      expect(lastPost().message).toBe("**bold** text");
      expect(lastPost().props).toEqual({});
    });

    test("extra.mattermost fields and extra.color make one attachment", async () => {
      const fields = [{ title: "host", value: "web01", short: true }];
      await bot.send(room, { text: "deployed", extra: { color: "#00AA00", mattermost: { title: "Deploy", title_link: "https://st2/x", fields } } });
      const post = lastPost();
      expect(post.message).toBe("");
      expect(post.props.attachments).toEqual([{ fallback: "deployed", text: "deployed", color: "#00AA00", title: "Deploy", title_link: "https://st2/x", fields }]);
    });

    test("extra.mattermost.attachments are sent as given, with the pretext as the message", async () => {
      const attachments = [{ title: "one", text: "first" }, { title: "two", text: "second", color: "#123456" }];
      await bot.send(room, { text: "Result{~}details", extra: { color: "good", mattermost: { attachments } } });
      expect(lastPost().message).toBe("Result");
      expect(lastPost().props.attachments).toEqual([{ title: "one", text: "first", color: "good" }, attachments[1]]);
    });

    test("a failed execution is coloured as a failure by default", async () => {
      await bot.send(room, { text: "Action core.local completed.\nstatus : failed\nexecution: 1" });
      const [att] = lastPost().props.attachments as { color: string; text: string }[];
      expect(att!.color).toBe(FAILURE_COLOR);
      expect(att!.text).toContain("status : failed");
    });

    test("an explicit colour wins over the failure colour", async () => {
      await bot.send(room, { text: "status : failed", extra: { color: "#FFFF00" } });
      expect((lastPost().props.attachments as { color: string }[])[0]!.color).toBe("#FFFF00");
    });

    test("hubot's {~} pretext marker never reaches a plain post", async () => {
      await bot.send(room, { text: "pretext{~}body" });
      expect(lastPost().message).toBe("pretext\nbody");
    });
  });

  describe("threads", () => {
    test("a reply in a thread arrives with the thread, and the answer goes back into it", async () => {
      const root = emu.postAsUser({ user: "alice", channel: "~town-square", message: "!st2 thread root" });
      emu.postAsUser({ user: "alice", channel: "~town-square", message: "!st2 in the thread", root_id: root.id });
      const m = await said("in the thread");
      expect(m.thread).toBe(root.id);
      expect((await said("thread root")).thread).toBeUndefined();
      await bot.send(bot.replyTarget(m), { text: "threaded answer" });
      expect(lastPost().root_id).toBe(root.id);
      expect(lastPost().channel_id).toBe(emu.channel("town-square").id);
    });

    test("a room target's thread becomes root_id", async () => {
      const root = emu.postAsUser({ user: "alice", channel: "~ops", message: "root for announce" });
      const target = await bot.resolve("channel", "~ops");
      await bot.send({ ...target, kind: "room", thread: root.id }, { text: "announced in thread" });
      expect(lastPost().root_id).toBe(root.id);
    });
  });

  describe("limits and failures", () => {
    afterEach(() => emu.slow(0));

    test("the message limit is the server's MaxPostSize and the send rate Mattermost's default", () => {
      expect(bot.maxMessageLength).toBe(16383);
      expect(bot.sendRate).toEqual({ perSecond: 10, burst: 100 });
    });

    test("a 429 is a retryable SendError carrying Retry-After, and the next send goes through", async () => {
      const room = await bot.resolve("channel", "~ops");
      emu.inject429(1, 7);
      const err = (await failure(bot.send(room, { text: "too fast" }))) as SendError;
      expect(err).toBeInstanceOf(SendError);
      expect(err.retryable).toBe(true);
      expect(err.retryAfterMs).toBe(7000);
      expect(emu.received.some((p) => p.message === "too fast")).toBe(false);
      await bot.send(room, { text: "slower now" });
      expect(lastPost().message).toBe("slower now");
    });

    test("a post longer than the server allows is refused for good", async () => {
      const room = await bot.resolve("channel", "~ops");
      const err = (await failure(bot.send(room, { text: "x".repeat(16384) }))) as SendError;
      expect(err.retryable).toBe(false);
    });

    test("a reply to a thread that does not exist is refused for good", async () => {
      const room = await bot.resolve("channel", "~ops");
      const err = (await failure(bot.send({ ...room, kind: "room", thread: "abcdefghijklmnopqrstuvwxyz" }, { text: "orphan" }))) as SendError;
      expect(err.retryable).toBe(false);
    });

    test("Retry-After wins; X-Ratelimit-Reset is the fallback; one second when neither is sent", () => {
      expect(retryAfterMs(new Headers({ "Retry-After": "2", "X-Ratelimit-Reset": "9" }))).toBe(2000);
      expect(retryAfterMs(new Headers({ "X-Ratelimit-Reset": "4" }))).toBe(4000);
      expect(retryAfterMs(new Headers({ "Retry-After": new Date(10_000).toUTCString() }), 4_000)).toBe(6000);
      expect(retryAfterMs(new Headers())).toBe(1000);
    });
  });
});
