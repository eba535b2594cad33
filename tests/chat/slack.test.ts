/**
 * The Slack backend against a wire-level Slack (tests/emulators/slack/index.ts), driven through the real
 * @slack/web-api and @slack/socket-mode clients: the shared contract, then what is Slack's own —
 * identities as Errbot/err-stackstorm name them, every identifier form, rich formatting on the
 * wire, threads and mentions. Failures, the connection and the lifecycle: slack-connection.test.ts.
 */
import { describe, expect, test } from "bun:test";
import type { Target } from "../../src/chat/types.ts";
import { SendError } from "../../src/lib/errors.ts";
import { SlackEmulator } from "../emulators/slack/index.ts";
import { runBackendContract, stallBy } from "./contract.ts";
import { ALICE, GENERAL, newBackend, failure, toDelivered, workspace } from "./slack-fixture.ts";


// ---- the shared contract --------------------------------------------------------------------

runBackendContract("slack", async () => {
  const emu = SlackEmulator.start();
  const rooms: Record<string, string> = { "<#C0GENERAL|general>": GENERAL };
  return {
    backend: newBackend(emu),
    userSays: async (text, where) => {
      const channel = where.room === undefined ? undefined : (rooms[where.room] ?? where.room);
      emu.postUserMessage({ user: ALICE, text, ...(channel ? { channel } : {}), ...(where.thread ? { thread_ts: where.thread } : {}) });
    },
    delivered: () => emu.received.map(toDelivered),
    room: { st2Name: "<#C0GENERAL|general>", deliveredTo: GENERAL },
    user: { st2Name: "<@U0ALICE>", deliveredTo: emu.imFor(ALICE) },
    dropConnection: async () => emu.dropSockets(),
    stall: stallBy(emu),
    teardown: async () => {
      const missing = await emu.settledAcks();
      await emu.stop();
      if (missing.length > 0) throw new Error(`envelopes never acked: ${missing.join(", ")}`);
    },
  };
});

// ---- Slack's own behaviour ------------------------------------------------------------------

describe("slack: who said it and where", () => {
  const { ctx, say, settle } = workspace();

  test("a room message carries Errbot's and err-stackstorm's names", async () => {
    const m = await say("!st2 status", { channel: GENERAL });
    expect(m.direct).toBe(false);
    expect(m.room).toEqual({ id: GENERAL, name: "#general" });
    expect(m.from).toEqual({ id: ALICE, nick: "Alice", fullName: "Alice Liddell", email: "alice@example.com", aclId: ALICE, st2User: "#general" });
    expect(m.thread).toBeUndefined();
    expect(ctx.backend.sourceChannel(m)).toBe("<#C0GENERAL|general>");
    expect(ctx.backend.replyTarget(m)).toEqual({ kind: "room", id: GENERAL, name: "#general" });
  });

  test("a private channel is a room too", async () => {
    const m = await say("!st2 in ops", { channel: "C0OPS" });
    expect(m.room).toEqual({ id: "C0OPS", name: "#ops" });
    expect(ctx.backend.sourceChannel(m)).toBe("<#C0OPS|ops>");
  });

  test("a direct message names the person, and the reply reuses the DM it came from", async () => {
    const m = await say("!st2 whoami");
    expect(m.direct).toBe(true);
    expect(m.room).toBeUndefined();
    expect(m.from.st2User).toBe("<@U0ALICE>");
    expect(ctx.backend.sourceChannel(m)).toBe("<@U0ALICE>");
    const opensBefore = ctx.emu.calls.filter((c) => c.method === "conversations.open").length;
    await ctx.backend.send(ctx.backend.replyTarget(m), { text: "you are alice" });
    expect(ctx.emu.received.at(-1)).toMatchObject({ channel: "D0ALICE", text: "you are alice" });
    expect(ctx.emu.calls.filter((c) => c.method === "conversations.open").length).toBe(opensBefore);
  });

  test("a person without a display name goes by their handle", async () => {
    ctx.emu.addUser({ id: "U0DAN", name: "dan", real_name: "Dan Dare" });
    const m = await say("!st2 hello from dan", { channel: GENERAL, user: "U0DAN" });
    expect(m.from).toMatchObject({ id: "U0DAN", nick: "dan", fullName: "Dan Dare", aclId: "U0DAN" });
  });

  test("a mention addresses the bot and is stripped; the app_mention twin is not delivered twice", async () => {
    const m = await say("<@U0BOT> deploy web", { channel: GENERAL });
    expect(m).toMatchObject({ text: "deploy web", mentioned: true });
    const named = await say("<@U0BOT|st2bot>: restart db", { channel: GENERAL });
    expect(named).toMatchObject({ text: "restart db", mentioned: true });
    const aside = await say("thanks <@U0BOT> that worked", { channel: GENERAL });
    expect(aside).toMatchObject({ text: "thanks <@U0BOT> that worked", mentioned: false });
    await settle();
    expect(ctx.inbox.filter((x) => x.text === "deploy web")).toHaveLength(1);
    expect(ctx.backend.botNames()).toEqual(["st2bot", "@st2bot", "<@U0BOT>"]);
  });

  test("Slack's encoding is undone: links, entities and smart quotes", async () => {
    const m = await say("!st2 get <https://example.com/a?b=1|example.com/a?b=1> &amp; <http://x.io> “two words” ‘one’ a &lt; b", { channel: GENERAL });
    expect(m.text).toBe("!st2 get example.com/a?b=1 & http://x.io \"two words\" 'one' a < b");
  });

  test("the bot's own posts, edits and joins are not commands; a thread broadcast is", async () => {
    await ctx.backend.send({ kind: "room", id: GENERAL }, { text: "!st2 echo from the bot" });
    ctx.emu.postUserMessage({ user: ALICE, channel: GENERAL, text: "!st2 edited", subtype: "message_changed" });
    ctx.emu.postUserMessage({ user: ALICE, channel: GENERAL, text: "<@U0ALICE> has joined the channel", subtype: "channel_join" });
    const root = ctx.emu.postUserMessage({ user: ALICE, channel: GENERAL, text: "thread root" });
    ctx.emu.postUserMessage({ user: ALICE, channel: GENERAL, text: "!st2 broadcast", subtype: "thread_broadcast", thread_ts: root.ts });
    await settle();
    const texts = ctx.inbox.map((m) => m.text);
    expect(texts).not.toContain("!st2 echo from the bot");
    expect(texts).not.toContain("!st2 edited");
    expect(texts.some((t) => t.includes("has joined"))).toBe(false);
    expect(texts).toContain("!st2 broadcast");
    // The echo really reached the socket: the test would pass vacuously otherwise.
    expect(ctx.emu.envelopes.some((e) => (e.payload.event as { user?: string }).user === "U0BOT")).toBe(true);
  });
});

describe("slack: threads", () => {
  const { ctx, say, lastPost } = workspace();

  test("a message in a thread is answered in that thread", async () => {
    const root = ctx.emu.postUserMessage({ user: ALICE, channel: GENERAL, text: "starting a thread" });
    const m = await say("!st2 in thread", { channel: GENERAL, thread_ts: root.ts });
    expect(m.thread).toBe(root.ts);
    const target = ctx.backend.replyTarget(m);
    expect(target).toEqual({ kind: "room", id: GENERAL, name: "#general", thread: root.ts });
    await ctx.backend.send(target, { text: "threaded reply" });
    expect(lastPost()).toMatchObject({ channel: GENERAL, thread_ts: root.ts, text: "threaded reply" });
  });

  test("extra.slack.thread_response steers threading", async () => {
    const inThread: Target = { kind: "room", id: GENERAL, thread: "1700000000.000001" };
    await ctx.backend.send(inThread, { text: "result", extra: { slack: { thread_response: true } } });
    expect(lastPost().thread_ts).toBe("1700000000.000001");
    await ctx.backend.send(inThread, { text: "to the channel", extra: { slack: { thread_response: false } } });
    expect(lastPost().thread_ts).toBeUndefined();
    await ctx.backend.send({ kind: "room", id: GENERAL }, { text: "explicit", extra: { slack: { thread_response: "1700000000.000042" } } });
    expect(lastPost().thread_ts).toBe("1700000000.000042");
    expect(lastPost().args.thread_response).toBeUndefined();
  });
});

describe("slack: identifiers StackStorm sends back", () => {
  // Pages of two force every directory load through several cursors.
  const { ctx } = workspace({ maxPageSize: 2 }, { missRefreshMs: 300 });

  const forms: Array<[kind: "user" | "channel", value: string, deliveredTo: string]> = [
    ["user", "<@U0ALICE>", "D0ALICE"],
    ["user", "<@U0ALICE|alice>", "D0ALICE"],
    ["user", "@alice", "D0ALICE"],
    ["user", "alice", "D0ALICE"],
    ["user", "U0ALICE", "D0ALICE"],
    ["user", "@Alice", "D0ALICE"],
    ["user", "@bobby", "D0BOB"],
    ["user", "W0CAROL", "D0CAROL"],
    ["user", "#general", GENERAL],
    ["channel", "<#C0GENERAL|general>", GENERAL],
    ["channel", "<#C0GENERAL>", GENERAL],
    ["channel", "#general", GENERAL],
    ["channel", "general", GENERAL],
    ["channel", "C0GENERAL", GENERAL],
    ["channel", "#general/Alice", GENERAL],
    ["channel", "#ops", "C0OPS"],
    ["channel", "<#C0OPS|ops>", "C0OPS"],
    ["channel", "bob", "D0BOB"],
    ["channel", "<@U0BOB>", "D0BOB"],
  ];

  for (const [kind, value, deliveredTo] of forms) {
    test(`${kind} ${value} → ${deliveredTo}`, async () => {
      const target = await ctx.backend.resolve(kind, value);
      await ctx.backend.send(target, { text: `to ${value}` });
      expect(ctx.emu.received.at(-1)).toMatchObject({ channel: deliveredTo, text: `to ${value}` });
    });
  }

  test("a DM id (hubot's source_channel) is posted to as it is", async () => {
    const dm = ctx.emu.imFor("U0BOB");
    const target = await ctx.backend.resolve("channel", dm);
    await ctx.backend.send(target, { text: "to the DM id" });
    expect(ctx.emu.received.at(-1)).toMatchObject({ channel: dm, text: "to the DM id" });
  });

  for (const [kind, value] of [
    ["channel", "#nope"], ["channel", "<#C0NOPE|nope>"], ["channel", "C0NOPE"], ["channel", "#secret"],
    ["user", "@nobody"], ["user", "<@U0NOBODY>"], ["user", "U0NOBODY"], ["channel", "not a name"], ["user", ""],
  ] as const) {
    test(`${kind} "${value}" names nothing: a non-retryable SendError`, async () => {
      const err = await failure(ctx.backend.resolve(kind, value));
      expect(err).toBeInstanceOf(SendError);
      expect((err as SendError).retryable).toBe(false);
    });
  }

  test("names are cached; a miss reloads the directory at most every missRefreshMs", async () => {
    const lists = () => ctx.emu.calls.filter((c) => c.method === "users.list");
    await ctx.backend.resolve("user", "@alice");
    const before = lists().length;
    await ctx.backend.resolve("user", "@alice");
    await ctx.backend.resolve("channel", "#general");
    expect(lists().length).toBe(before);
    // The directory really pages: every page after the first carries the previous cursor.
    expect(lists().filter((c) => typeof c.args.cursor === "string").length).toBeGreaterThan(0);

    await failure(ctx.backend.resolve("user", "@erin")); // a miss: reloads, still unknown
    ctx.emu.addUser({ id: "U0ERIN", name: "erin" });
    const afterMiss = lists().length;
    expect(await failure(ctx.backend.resolve("user", "@erin"))).toBeInstanceOf(SendError);
    expect(lists().length).toBe(afterMiss); // throttled: no reload within missRefreshMs
    await Bun.sleep(350);
    expect(await ctx.backend.resolve("user", "@erin")).toEqual({ kind: "user", id: "U0ERIN", name: "erin" });
  });
});

describe("slack: an expired directory", () => {
  const { ctx } = workspace({}, { cacheTtlMs: 50 });

  test("keeps answering from the last load while Slack refuses a reload", async () => {
    await ctx.backend.resolve("channel", "#general");
    await Bun.sleep(80);
    ctx.emu.rateLimit("users.list", 1, 5);
    expect(await ctx.backend.resolve("channel", "#general")).toMatchObject({ id: GENERAL });
    expect(ctx.emu.calls.some((c) => c.method === "users.list" && c.status === 429)).toBe(true);
  });

  test("an empty one cannot: the rate limit reaches the caller as retryable", async () => {
    const fresh = newBackend(ctx.emu);
    ctx.emu.rateLimit("users.list", 1, 5);
    expect(await failure(fresh.resolve("user", "@alice"))).toMatchObject({ retryable: true, retryAfterMs: 5000 });
  });
});

describe("slack: an app without groups:read and mpim:read", () => {
  const { ctx } = workspace({ missingScopes: ["groups:read", "mpim:read"] });

  test("still resolves public channels by name", async () => {
    expect(await ctx.backend.resolve("channel", "#general")).toEqual({ kind: "room", id: GENERAL, name: "#general" });
    const refused = ctx.emu.calls.filter((c) => c.method === "conversations.list" && c.error === "missing_scope");
    expect(refused.length).toBe(2);
    expect(await failure(ctx.backend.resolve("channel", "#ops"))).toBeInstanceOf(SendError);
  });
});

describe("slack: rich messages on the wire", () => {
  const { ctx, lastPost } = workspace();
  const room: Target = { kind: "room", id: GENERAL };

  test("plain text stays plain", async () => {
    await ctx.backend.send(room, { text: "hello *world*" });
    expect(lastPost().text).toBe("hello *world*");
    expect(lastPost().attachments).toBeUndefined();
  });

  test("legacy attachment fields style one attachment that carries the text", async () => {
    const slack = {
      color: "#00ff00", title: "Deploy", title_link: "https://ci.example.com/1", footer: "st2",
      fields: [{ title: "Env", value: "prod", short: true }], image_url: "https://example.com/x.png",
    };
    await ctx.backend.send(room, { text: "deployed web", extra: { slack } });
    const post = lastPost();
    expect(post.text).toBeUndefined();
    expect(post.attachments).toEqual([{ ...slack, mrkdwn_in: ["text", "pretext"], text: "deployed web", fallback: "deployed web" }]);
  });

  test("extra.color colours the attachment; a failed execution is 'danger' by default", async () => {
    await ctx.backend.send(room, { text: "coloured", extra: { color: "#123456" } });
    expect(lastPost().attachments?.[0]).toMatchObject({ color: "#123456", text: "coloured" });
    const failed = "Action core.local completed.\nstatus : failed\nexecution: 5f1\n";
    await ctx.backend.send(room, { text: failed });
    expect(lastPost().attachments?.[0]).toMatchObject({ color: "danger", text: failed, mrkdwn_in: ["text", "pretext"] });
    await ctx.backend.send(room, { text: "status : timeout", extra: { color: "warning" } });
    expect(lastPost().attachments?.[0]?.color).toBe("warning");
    await ctx.backend.send(room, { text: "Action core.local completed.\nstatus : succeeded\n" });
    expect(lastPost().attachments).toBeUndefined();
  });

  test("legacy fields without a colour get hubot's success colour; {~} splits off the pretext", async () => {
    await ctx.backend.send(room, { text: "Heads up{~}the body", extra: { slack: { title: "T" } } });
    expect(lastPost().attachments?.[0]).toMatchObject({ color: "#dfdfdf", pretext: "Heads up", text: "the body", title: "T" });
  });

  test("extra.slack.attachments are posted as given, with the message as text", async () => {
    const attachments = [{ fallback: "ticket", color: "#042A60", title: "JIRA-1", fields: [{ title: "Summary", value: "broken", short: false }] }];
    await ctx.backend.send(room, { text: "ticket created", extra: { slack: { attachments, icon_emoji: ":jira:", username: "Jira Bot" } } });
    const post = lastPost();
    expect(post.attachments).toEqual(attachments);
    expect(post.text).toBe("ticket created");
    expect(post.args).toMatchObject({ icon_emoji: ":jira:", username: "Jira Bot" });
  });

  test("extra.slack.blocks are posted as given; unknown keys never reach Slack", async () => {
    const blocks = [{ type: "section", text: { type: "mrkdwn", text: "*done*" } }, { type: "divider" }];
    await ctx.backend.send(room, { text: "done", extra: { slack: { blocks, channel: "C0RANDOM", as_user: true } } });
    const post = lastPost();
    expect(post).toMatchObject({ channel: GENERAL, text: "done", blocks });
    expect(post.args.as_user).toBeUndefined();
  });

  test("an extra.slack that is not a message shape still delivers the text", async () => {
    await ctx.backend.send(room, { text: "still here", extra: { slack: { blocks: "not a list" } } });
    expect(lastPost()).toMatchObject({ text: "still here" });
    expect(lastPost().blocks).toBeUndefined();
  });

  test("blocks Slack rejects are a non-retryable SendError", async () => {
    const err = await failure(ctx.backend.send(room, { text: "x", extra: { slack: { blocks: [{ type: "bogus" }] } } }));
    expect(err).toBeInstanceOf(SendError);
    expect((err as SendError).retryable).toBe(false);
    expect((err as SendError).message).toContain("invalid_blocks");
  });
});
