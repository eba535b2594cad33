/**
 * The Matrix backend against a wire-level homeserver emulator (tests/emulators/matrix/index.ts) on
 * loopback: the shared contract, then what is Matrix's own: transaction ids, the persisted
 * /sync position, rate limits, expired tokens, encrypted rooms, threads, mentions, aliases.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { invitationAllowed } from "../../src/chat/matrix/index.ts";
import type { ChatBackend, Message } from "../../src/chat/types.ts";
import { ConfigError, SendError } from "../../src/lib/errors.ts";
import type { MatrixEmulator } from "../emulators/matrix/index.ts";
import { type BackendHarness, runBackendContract, stallBy } from "./contract.ts";
import { waitFor } from "../support/wait.ts";
import { tempDirs } from "../support/tmp.ts";
import { BOT_TOKEN, BOT_PASSWORD, emulator, backendsIn } from "./matrix-fixture.ts";

const tmp = tempDirs();
const backendFor = backendsIn(tmp);



runBackendContract("matrix", async (): Promise<BackendHarness> => {
  const emu = emulator();
  return {
    backend: backendFor(emu, `rooms = ["#ops:emu.test"]`),
    userSays: async (text, where) => {
      emu.say("alice", where.room ?? emu.directRoom("alice", "st2bot")!, text, where.thread ? { thread: where.thread } : {});
    },
    delivered: () =>
      emu.received.map((s) => ({
        to: emu.describeRoom(s.roomId),
        thread: (s.event.content["m.relates_to"] as { event_id?: string } | undefined)?.event_id,
        text: String(s.event.content.body),
        rich: s.event.content,
      })),
    room: { st2Name: emu.room("#ops:emu.test").id, deliveredTo: "#ops:emu.test" },
    user: { st2Name: "@alice:emu.test", deliveredTo: "@alice:emu.test" },
    dropConnection: () => emu.dropConnections(),
    stall: stallBy(emu),
    teardown: () => emu.stop(),
  };
});

describe("matrix backend", () => {
  let emu: MatrixEmulator;
  const running: ChatBackend[] = [];
  const inbox: Message[] = [];

  beforeAll(() => {
    emu = emulator();
  });
  afterEach(async () => {
    for (const b of running.splice(0)) await b.stop();
    inbox.length = 0;
  });
  afterAll(() => emu.stop());

  const started = async (b: ChatBackend) => {
    running.push(b);
    await b.start((m) => {
      inbox.push(m);
    });
    return b;
  };
  const nextMessage = (text: string) => waitFor(`message "${text}"`, () => inbox.find((m) => m.text.includes(text)));
  const failure = (p: Promise<unknown>) => p.then(() => { throw new Error("expected a failure"); }, (e: unknown) => e);
  const ops = () => emu.room("#ops:emu.test").id;

  test("user is @name:server, source_channel the room id; in a direct chat, the sender", async () => {
    const b = await started(backendFor(emu));
    emu.say("alice", "#ops:emu.test", "!st2 who am I");
    const m = await nextMessage("who am I");
    expect(m.from).toMatchObject({ id: "@alice:emu.test", nick: "alice", aclId: "@alice:emu.test", st2User: "@alice:emu.test", fullName: "Alice Liddell" });
    expect(b.sourceChannel(m)).toBe(ops());
    expect(m.room).toEqual({ id: ops(), name: "#ops:emu.test" });
    emu.say("alice", emu.directRoom("alice", "st2bot")!, "!st2 in private");
    const d = await nextMessage("in private");
    expect(d.direct).toBe(true);
    expect(b.sourceChannel(d)).toBe("@alice:emu.test");
    expect(b.replyTarget(d)).toMatchObject({ kind: "user", id: "@alice:emu.test" });
  });

  test("a retried send with the same outbox id is posted once, even when the first answer was lost", async () => {
    const b = await started(backendFor(emu));
    const before = emu.received.length;
    emu.loseAnswers(1);
    // The connection dies after the server stored the event. Either the send fails (retryable)
    // or fetch itself retried the idempotent PUT on a fresh connection; the outbox then sends
    // the same part again. Whatever happened, the server stores it once.
    const first = await b.send({ kind: "room", id: ops() }, { text: "exactly once", id: "42.1700000000000.0" }).catch((e: unknown) => e);
    if (first !== undefined) expect(first).toMatchObject({ retryable: true });
    await b.send({ kind: "room", id: ops() }, { text: "exactly once", id: "42.1700000000000.0" });
    const sent = emu.received.slice(before);
    expect(sent.map((s) => s.event.content.body)).toEqual(["exactly once"]);
    expect(sent[0]!.txnId).toBe("st2bot.42.1700000000000.0");
    expect(emu.requests.filter((r) => r.endsWith("/send/m.room.message/st2bot.42.1700000000000.0")).length).toBeGreaterThanOrEqual(2);
    // Without an id (not from the outbox), two sends are two messages.
    await b.send({ kind: "room", id: ops() }, { text: "twice" });
    await b.send({ kind: "room", id: ops() }, { text: "twice" });
    expect(emu.received.slice(before).filter((s) => s.event.content.body === "twice")).toHaveLength(2);
  });

  test("the outbox gives each part of a message a stable, distinct id", async () => {
    const { openDatabase } = await import("../../src/store/db.ts");
    const { Outbox } = await import("../../src/delivery/outbox.ts");
    const ids: Array<string | undefined> = [];
    const db = openDatabase(":memory:");
    let fail = 1;
    const backend = {
      name: "fake", maxMessageLength: 200, start: async () => {}, stop: async () => {}, status: () => ({ state: "connected" as const, since: 0 }),
      botNames: () => [], replyTarget: () => ({ kind: "room" as const, id: "r" }), sourceChannel: () => "r",
      resolve: async () => ({ kind: "room" as const, id: "r" }),
      send: async (_t: unknown, m: { id?: string }) => {
        ids.push(m.id);
        if (fail-- > 0) throw new SendError("lost", true);
      },
    };
    const outbox = new Outbox({ db, backend, deadAfterMs: 60_000, maxRetryDelayMs: 20, initialRetryDelayMs: 5 });
    outbox.start();
    outbox.enqueue({ message: `${"a".repeat(150)}\n${"b".repeat(150)}`, channel: "r" }, "bot");
    await waitFor("both parts", () => outbox.stats().pending === 0 && ids.length === 3);
    await outbox.stop();
    expect(ids[0]).toBe(ids[1]!); // the retry of part 0
    expect(ids[2]).not.toBe(ids[0]!);
    expect(ids[0]).toMatch(/^\d+\.\d+\.0$/);
    expect(ids[2]).toMatch(/^\d+\.\d+\.1$/);
  });

  test("a restart resumes after the last batch: no replay, nothing missed; the state file is 0600", async () => {
    const dataDir = tmp("matrix-resume");
    const stateFile = join(dataDir, "matrix-sync.json");
    emu.say("alice", "#ops:emu.test", "!st2 history before the first start");
    const first = await started(backendFor(emu, "", { stateFile }));
    emu.say("alice", "#ops:emu.test", "!st2 seen live");
    await nextMessage("seen live");
    expect(inbox.some((m) => m.text.includes("history before"))).toBe(false);
    await first.stop();
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);
    emu.say("alice", "#ops:emu.test", "!st2 while down 1");
    emu.say("alice", "#ops:emu.test", "!st2 while down 2");
    inbox.length = 0;
    await started(backendFor(emu, "", { stateFile }));
    await nextMessage("while down 2");
    expect(inbox.map((m) => m.text)).toEqual(["!st2 while down 1", "!st2 while down 2"]);
  });

  test("429 M_LIMIT_EXCEEDED becomes a retryable SendError carrying retry_after_ms", async () => {
    const b = await started(backendFor(emu));
    emu.inject429(1, 1234);
    const err = await failure(b.send({ kind: "room", id: ops() }, { text: "slow down" }));
    expect(err).toBeInstanceOf(SendError);
    expect(err).toMatchObject({ retryable: true, retryAfterMs: 1234 });
  });

  test("a refused access token fails start with a ConfigError that does not show the token", async () => {
    const b = backendFor(emu, "", {}, `access_token = "syt_not_a_real_token_777"`);
    const err = await failure(b.start(() => {}));
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as Error).message)).toContain("M_UNKNOWN_TOKEN");
    expect(String((err as Error).message)).not.toContain("syt_not_a_real_token_777");
    expect(b.status().state).toBe("stopped");
  });

  test("a password bot logs in again on M_UNKNOWN_TOKEN and keeps its device", async () => {
    const dataDir = tmp("matrix-pw");
    const stateFile = join(dataDir, "matrix-sync.json");
    const auth = `user_id = "@st2bot:emu.test"\npassword = "${BOT_PASSWORD}"`;
    const b = await started(backendFor(emu, "", { stateFile }, auth));
    const mine = () => emu.devices().filter((d) => d.userId === "@st2bot:emu.test" && d.token !== BOT_TOKEN);
    expect(mine()).toHaveLength(1);
    const device = mine()[0]!.deviceId;
    emu.expireToken(mine()[0]!.token);
    await b.send({ kind: "room", id: ops() }, { text: "after a new login" });
    expect(mine().map((d) => d.deviceId)).toEqual([device]);
    // Expired while the connection was down: the reconnect logs in again instead of giving up.
    emu.expireToken(mine()[0]!.token);
    await emu.dropConnections();
    emu.say("alice", "#ops:emu.test", "!st2 after the token expired");
    await nextMessage("after the token expired");
    expect(b.status().state).toBe("connected");
    await b.stop();
    // A restart logs in on the same device (the txn id scope), not a new one.
    await started(backendFor(emu, "", { stateFile }, auth));
    expect(new Set(mine().map((d) => d.deviceId))).toEqual(new Set([device]));
  });

  test("encrypted rooms are refused: sends fail for good, encrypted messages get one plain explanation", async () => {
    const b = await started(backendFor(emu));
    const secret = emu.room("#secret:emu.test").id;
    const err = await failure(b.send({ kind: "room", id: secret }, { text: "leak?" }));
    expect(err).toBeInstanceOf(SendError);
    expect((err as SendError).retryable).toBe(false);
    expect((err as Error).message).toContain("end-to-end encrypted");
    emu.say("alice", "#secret:emu.test", "", { type: "m.room.encrypted" });
    emu.say("alice", "#secret:emu.test", "", { type: "m.room.encrypted" });
    const notice = await waitFor("the refusal", () => emu.received.find((s) => s.roomId === secret));
    expect(notice.event.content).toMatchObject({ msgtype: "m.notice", body: expect.stringContaining("does not support encrypted rooms") });
    await Bun.sleep(100);
    expect(emu.received.filter((s) => s.roomId === secret)).toHaveLength(1);
    expect(emu.received.some((s) => s.event.content.body === "leak?")).toBe(false);
    expect(inbox).toEqual([]);
  });

  test("threads both ways: a message in a thread carries its root, the reply goes back into it", async () => {
    const b = await started(backendFor(emu));
    const root = emu.say("alice", "#ops:emu.test", "the web tier is slow");
    emu.say("alice", "#ops:emu.test", "!st2 in a thread", { thread: root });
    const m = await nextMessage("in a thread");
    expect(m.thread).toBe(root);
    await b.send(b.replyTarget(m), { text: "answered in the thread" });
    const sent = emu.received.at(-1)!;
    expect(sent.event.content["m.relates_to"]).toMatchObject({ rel_type: "m.thread", event_id: root });
  });

  test("Markdown and extra become formatted_body; raw HTML stays text; m.mentions never says @room", async () => {
    const b = await started(backendFor(emu));
    await b.send({ kind: "room", id: ops() }, { text: "**done** for @alice:emu.test, see <https://st2.example/x|the run> <script>alert(1)</script> @room", extra: { color: "danger" } });
    const c = emu.received.at(-1)!.event.content;
    expect(c.msgtype).toBe("m.notice");
    expect(c.format).toBe("org.matrix.custom.html");
    expect(c.body).toBe("**done** for @alice:emu.test, see the run (https://st2.example/x) <script>alert(1)</script> @room");
    expect(c.formatted_body).toContain("<strong>done</strong>");
    expect(c.formatted_body).toContain('<a href="https://st2.example/x">the run</a>');
    expect(c.formatted_body).toContain("&lt;script&gt;");
    expect(c.formatted_body).not.toContain("<script>");
    expect(c.formatted_body).toContain('data-mx-color="#a30200"');
    expect(c["m.mentions"]).toEqual({ user_ids: ["@alice:emu.test"] });
    const { mentionedUsers } = await import("../../src/chat/matrix/format.ts");
    expect(mentionedUsers("ask @bob:emu.test. or @carol:emu.test:8448, not me@x:y nor @room")).toEqual(["@bob:emu.test", "@carol:emu.test:8448"]);
  });

  test("addressing the bot by name or mention: the name is stripped and the message marked", async () => {
    await started(backendFor(emu));
    emu.say("alice", "#ops:emu.test", "st2bot: st2 run uptime");
    const m = await nextMessage("run uptime");
    expect(m).toMatchObject({ text: "st2 run uptime", mentioned: true });
    emu.say("alice", "#ops:emu.test", "hey look at this", { mentions: ["st2bot"] });
    expect(await nextMessage("look at this")).toMatchObject({ mentioned: true });
    emu.say("alice", "#ops:emu.test", "a notice from another bot", { msgtype: "m.notice" });
    emu.say("alice", "#ops:emu.test", "!st2 fence");
    await nextMessage("fence");
    expect(inbox.some((x) => x.text.includes("another bot"))).toBe(false);
  });

  test("invitations from the bot's server are accepted (a direct one becomes a direct chat), others and all with join_on_invite off are not", async () => {
    await started(backendFor(emu));
    const dm = emu.createRoom("bob", { members: ["bob"] });
    emu.invite("bob", dm, "st2bot", true);
    await waitFor("the bot to join", () => emu.rooms.get(dm)!.joined.has("@st2bot:emu.test"));
    emu.say("bob", dm, "!st2 hello from bob");
    const m = await nextMessage("hello from bob");
    expect(m.direct).toBe(true);
    // A stranger from another homeserver cannot pull the bot into a room (default invite_from).
    const trap = emu.createRoom("@mallory:evil.test", { members: ["@mallory:evil.test"] });
    emu.invite("@mallory:evil.test", trap, "st2bot", true);
    await Bun.sleep(300);
    expect(emu.rooms.get(trap)!.joined.has("@st2bot:emu.test")).toBe(false);
    for (const b of running.splice(0)) await b.stop();
    await started(backendFor(emu, "join_on_invite = false"));
    const other = emu.createRoom("bob", { members: ["bob"] });
    emu.invite("bob", other, "st2bot");
    await Bun.sleep(300);
    expect(emu.rooms.get(other)!.joined.has("@st2bot:emu.test")).toBe(false);
  });

  test("invite_from globs decide whose invitations count", () => {
    expect(invitationAllowed("@bob:emu.test", [], "@st2bot:emu.test")).toBe(true);
    expect(invitationAllowed("@bob:emu.test.evil", [], "@st2bot:emu.test")).toBe(false);
    expect(invitationAllowed("@bob:evil.test", ["@*:emu.test", "@bob:evil.test"], "@st2bot:emu.test")).toBe(true);
    expect(invitationAllowed("@eve:evil.test", ["@*:emu.test"], "@st2bot:emu.test")).toBe(false);
    expect(invitationAllowed("@a:x.y", ["@a:x?y"], "@st2bot:emu.test")).toBe(false); // only * is special
    expect(invitationAllowed(undefined, [], "@st2bot:emu.test")).toBe(false);
  });

  test("configured rooms are joined (aliases resolved); one that refuses shows in the status", async () => {
    const b = await started(backendFor(emu, `rooms = ["#lobby:emu.test", "#private:emu.test"]`));
    expect(emu.room("#lobby:emu.test").joined.has("@st2bot:emu.test")).toBe(true);
    expect(b.status()).toMatchObject({ state: "connected", detail: "as @st2bot:emu.test; not in #private:emu.test" });
    expect(await b.resolve("channel", "#lobby:emu.test")).toMatchObject({ kind: "room", id: emu.room("#lobby:emu.test").id });
    const err = await failure(b.resolve("channel", "#nowhere:emu.test"));
    expect(err).toMatchObject({ retryable: false });
    expect(await b.resolve("user", "alice")).toEqual({ kind: "user", id: "@alice:emu.test" });
  });
});
