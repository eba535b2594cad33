/**
 * The ChatOps loop through the real Rocket.Chat backend (`[bot] backend = "rocketchat"`), end to
 * end: a person writes in the Rocket.Chat emulator (DDP `changed` frames) → st2bot → POST
 * /aliasexecution on the StackStorm emulator (spec-checked) → ack and result posted over REST.
 * Also what the existing bridges get wrong: a result StackStorm posts out of band to a room the
 * bot never heard a word in (st2chatops #167, errbot-rocketchat #10).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations } from "../support/emulator.ts";
import { type EmuMessage, type RocketChatEmulator, startRocketChatEmulator } from "../emulators/rocketchat.ts";
import { completed, type LoopHarness, startLoop, taker } from "./backend-loop.ts";
import { waitFor } from "../support/wait.ts";

const BOT_TOKEN = "pat-RC-loop-5fT8gH2jK4mN6pQ9";

const attachments = (m: EmuMessage) => (m.attachments as Array<Record<string, unknown>> | undefined) ?? [];
const textOf = (m: EmuMessage) => m.msg || attachments(m).map((a) => String(a.text ?? "")).join("\n");

describe("the ChatOps loop on Rocket.Chat", () => {
  let rc: RocketChatEmulator;
  let h: LoopHarness;
  let posts: ReturnType<typeof taker<EmuMessage>>;

  beforeAll(async () => {
    rc = startRocketChatEmulator({
      users: [
        { username: "st2bot", token: BOT_TOKEN },
        { username: "alice", name: "Alice Liddell" },
      ],
      rooms: [
        { name: "general", members: ["st2bot", "alice"] },
        { name: "ops", t: "p", members: ["st2bot", "alice"] },
        { name: "ops-alerts", t: "p", members: ["st2bot", "alice"] },
      ],
    });
    h = await startLoop("rocketchat", `[rocketchat]\nurl = "${rc.url}"\nuser_id = "${rc.user("st2bot")._id}"\ntoken = "${BOT_TOKEN}"`, {
      // Long enough that the ack is always queued before the result is announced.
      completionDelayMs: 150,
    });
    posts = taker(() => rc.received, (m) => `${rc.describeRoom(m.rid)}${m.tmid ? `/${m.tmid}` : ""}: ${textOf(m)}`);
  });
  afterAll(async () => {
    await h?.stop();
    await rc?.stop();
    if (h) assertNoViolations(h.st2);
  });

  /** Alice writes `text`; resolves with the execution StackStorm received for it. */
  const run = async (text: string, room: string, tmid?: string) => {
    const n = h.st2.executions.length;
    rc.userSays({ user: "alice", room, text, ...(tmid ? { tmid } : {}) });
    return h.execution(n, `POST /aliasexecution for "${text}"`);
  };
  /** Messages in `where` (`#room` or `@alice` for the DM) and thread (none by default). */
  const at = (where: string, tmid?: string) => (m: EmuMessage) => rc.describeRoom(m.rid) === where && m.tmid === tmid;

  test("a room command runs as @user from the room id; ack and result come back to the room", async () => {
    const exec = await run("!st2 run uptime on web1", "#general");
    expect(exec.parameters).toMatchObject({ cmd: "uptime", hosts: "web1" });
    expect(exec.apiUser).toBe("@alice");
    expect(exec.sourceChannel).toBe(rc.room("#general")._id);
    expect(exec.sourceContext).toMatchObject({ backend: "rocketchat", user_id: rc.user("alice")._id, room: rc.room("#general")._id, room_name: "#general" });
    const ack = await posts.next(at("#general"), "the ack in #general");
    expect(ack.msg).toBe(`Running \`uptime\` on web1... (details available at ${h.st2.url}/#/history/${exec.id}/general)`);
    const result = await posts.next((m) => at("#general")(m) && textOf(m).includes("completed"), "the result in #general");
    expect(textOf(result)).toContain(completed("core.remote"));
    expect(textOf(result)).toContain(`execution: ${exec.id}`);
  });

  test("a command inside a thread is answered in that thread (tmid), ack and result", async () => {
    const parent = rc.userSays({ user: "alice", room: "#general", text: "the web tier looks slow" });
    const exec = await run("!st2 run uptime on web2", "#general", parent._id);
    expect(exec.sourceContext).toMatchObject({ thread: parent._id });
    expect((await posts.next(at("#general", parent._id), "the ack in the thread")).msg).toStartWith("Running `uptime` on web2...");
    await posts.next((m) => at("#general", parent._id)(m) && textOf(m).includes(`execution: ${exec.id}`), "the result in the thread");
    expect(rc.received.filter((m) => !m.tmid && textOf(m).includes(exec.id))).toEqual([]);
  });

  test("a direct message runs with the direct room as source_channel and is answered there", async () => {
    const exec = await run("!st2 packs list", "@st2bot");
    expect(exec.apiUser).toBe("@alice");
    expect(exec.sourceChannel).toBe(rc.directRoom("alice", "st2bot")._id);
    expect((await posts.next(at("@alice"), "the DM ack")).msg).toStartWith("Looking up your packs...");
    await posts.next((m) => at("@alice")(m) && textOf(m).includes("completed"), "the DM result");
  });

  test("a whispered announcement reaches the person in their DM, not the room", async () => {
    h.st2.announce("errbot", { message: "psst, only for alice", user: "@alice", channel: "#general", whisper: true });
    const m = await posts.next((x) => x.msg === "psst, only for alice", "the whisper");
    expect(rc.describeRoom(m.rid)).toBe("@alice");
  });

  test("a result with extra arrives as attachments coloured from extra", async () => {
    await run("!st2 status of nginx", "#ops");
    expect((await posts.next(at("#ops"), "the ack in #ops")).msg).toStartWith("Checking nginx...");
    const result = await posts.next((m) => at("#ops")(m) && textOf(m).startsWith("nginx is running"), "the rich result");
    expect(attachments(result)).toHaveLength(1);
    expect(attachments(result)[0]).toMatchObject({ color: "#2eb886", text: expect.stringMatching(/^nginx is running since /) });
  });

  test("out of band: StackStorm posts to a room the bot never received a message in, by name and by id", async () => {
    const alerts = rc.room("#ops-alerts")._id;
    h.st2.announce("errbot", { message: "disk full on db1 (by name)", channel: "#ops-alerts" });
    h.st2.announce("errbot", { message: "disk full on db1 (by id)", channel: alerts });
    h.st2.announce("errbot", { message: "disk full on db1 (bare name)", channel: "ops-alerts" });
    for (const how of ["by name", "by id", "bare name"]) {
      const m = await posts.next((x) => x.msg === `disk full on db1 (${how})`, `the announcement ${how}`);
      expect(m.rid).toBe(alerts);
    }
  });

  test("a result longer than Message_MaxAllowedSize arrives in parts the server accepts, in order", async () => {
    const lines = Array.from({ length: 400 }, (_, i) => `line ${String(i).padStart(3, "0")} ${"x".repeat(30)}`);
    h.st2.announce("errbot", { message: lines.join("\n"), channel: "#ops" });
    const first = await posts.next((m) => m.msg.startsWith("line 000"), "the first part");
    const parts = [first];
    while (!parts.at(-1)!.msg.includes("line 399")) parts.push(await posts.next(at("#ops"), "the next part"));
    expect(parts.length).toBeGreaterThanOrEqual(3);
    for (const p of parts) expect(p.msg.length).toBeLessThanOrEqual(5000);
    const got = parts.flatMap((p) => p.msg.split("\n")).filter((l) => l.startsWith("line "));
    expect(got).toEqual(lines);
    expect(new Set(parts.map((p) => p._id)).size).toBe(parts.length);
  });

  test("429s delay the messages but lose none, and none is posted twice", async () => {
    const started = Date.now();
    rc.inject429(2, 1000);
    const exec = await run("!st2 run uptime on web4", "#ops");
    const mine = (m: EmuMessage) => at("#ops")(m) && textOf(m).includes(exec.id);
    await posts.next((m) => mine(m) && !textOf(m).includes("completed"), "the ack after the 429s");
    await posts.next((m) => mine(m) && textOf(m).includes(completed("core.remote")), "the result after the 429s");
    // Whichever send met the first 429 waited until X-RateLimit-Reset before trying again.
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    await waitFor("the outbox to drain", () => h.app.outbox.stats().pending === 0);
    expect(rc.received.filter(mine)).toHaveLength(2);
  }, 15_000);

  test("a result whose answer was lost is retried by the outbox and posted once (the message _id)", async () => {
    rc.loseReplies(1);
    h.st2.announce("errbot", { message: "exactly once, please", channel: "#ops" });
    await posts.next((m) => m.msg === "exactly once, please", "the announcement");
    await waitFor("the outbox to drain", () => h.app.outbox.stats().pending === 0, 10_000);
    await Bun.sleep(200);
    expect(rc.received.filter((m) => m.msg === "exactly once, please")).toHaveLength(1);
    expect(rc.requests.filter((r) => r === "GET /api/v1/chat.getMessage").length).toBeGreaterThanOrEqual(1);
  }, 15_000);
});
