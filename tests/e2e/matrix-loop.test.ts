/**
 * The ChatOps loop through the real Matrix backend (`[bot] backend = "matrix"`), end to end: a
 * person speaks in the homeserver emulator (/sync) → st2bot → POST /aliasexecution on the
 * StackStorm emulator (spec-checked) → ack and result sent as `m.room.message` events.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations } from "../support/emulator.ts";
import { type MatrixEmulator, type Sent, startMatrixEmulator } from "../emulators/matrix/index.ts";
import { completed, type LoopHarness, startLoop, taker } from "./backend-loop.ts";
import { waitFor } from "../support/wait.ts";

const BOT_TOKEN = "syt_c3QyYm90_loop0token0a1b2c3";

const text = (s: Sent) => String(s.event.content.body ?? "");
const threadOf = (s: Sent) => (s.event.content["m.relates_to"] as { rel_type?: string; event_id?: string } | undefined)?.event_id ?? "";

describe("the ChatOps loop on Matrix", () => {
  let mx: MatrixEmulator;
  let h: LoopHarness;
  let sent: ReturnType<typeof taker<Sent>>;
  let ops: string;
  let town: string;

  beforeAll(async () => {
    mx = startMatrixEmulator({
      bot: "st2bot",
      users: [{ name: "st2bot", tokens: [BOT_TOKEN] }, { name: "alice", displayname: "Alice Liddell" }],
      rooms: [
        { alias: "#town:emu.test", members: ["alice"], public: true },
        { alias: "#ops:emu.test", members: ["alice", "st2bot"] },
        { members: ["alice", "st2bot"], direct: true },
      ],
    });
    ops = mx.room("#ops:emu.test").id;
    town = mx.room("#town:emu.test").id;
    h = await startLoop("matrix", `[matrix]\nhomeserver = "${mx.url}"\naccess_token = "${BOT_TOKEN}"\nrooms = ["#town:emu.test"]`, {
      // Long enough that the ack is always queued before the result is announced.
      completionDelayMs: 150,
    });
    sent = taker(() => mx.received, (s) => `${mx.describeRoom(s.roomId)}${threadOf(s) ? `/${threadOf(s)}` : ""}: ${text(s)}`);
  });
  afterAll(async () => {
    await h?.stop();
    await mx?.stop();
    if (h) assertNoViolations(h.st2);
  });

  /** Alice says `body` in `room`; resolves with the execution StackStorm received for it. */
  const run = async (body: string, room: string, thread?: string) => {
    const n = h.st2.executions.length;
    mx.say("alice", room, body, thread ? { thread } : {});
    return h.execution(n, `POST /aliasexecution for "${body}"`);
  };
  const at = (where: string, thread = "") => (s: Sent) => mx.describeRoom(s.roomId) === where && threadOf(s) === thread;

  test("a room command runs as @alice:server from the room id; ack and result come back to the room", async () => {
    const exec = await run("!st2 run uptime on web1", "#town:emu.test");
    expect(exec.parameters).toMatchObject({ cmd: "uptime", hosts: "web1" });
    expect(exec.apiUser).toBe("@alice:emu.test");
    expect(exec.sourceChannel).toBe(town);
    expect(exec.sourceContext).toMatchObject({ backend: "matrix", user_id: "@alice:emu.test", room: town, room_name: "#town:emu.test" });
    const ack = await sent.next(at("#town:emu.test"), "the ack in #town");
    expect(text(ack)).toBe(`Running \`uptime\` on web1... (details available at ${h.st2.url}/#/history/${exec.id}/general)`);
    expect(ack.event.content.formatted_body).toContain("<code>uptime</code>");
    const result = await sent.next((s) => at("#town:emu.test")(s) && text(s).includes("completed"), "the result in #town");
    expect(text(result)).toContain(completed("core.remote"));
    expect(text(result)).toContain(`execution: ${exec.id}`);
  });

  test("a command inside a thread is answered in that thread (m.thread), ack and result", async () => {
    const root = mx.say("alice", "#town:emu.test", "the web tier looks slow");
    const exec = await run("!st2 run uptime on web2", "#town:emu.test", root);
    expect(exec.sourceContext).toMatchObject({ thread: root });
    const ack = await sent.next(at("#town:emu.test", root), "the ack in the thread");
    expect(text(ack)).toStartWith("Running `uptime` on web2...");
    expect(ack.event.content["m.relates_to"]).toMatchObject({ rel_type: "m.thread", event_id: root });
    await sent.next((s) => at("#town:emu.test", root)(s) && text(s).includes(`execution: ${exec.id}`), "the result in the thread");
    expect(mx.received.filter((s) => threadOf(s) === "" && text(s).includes(exec.id))).toEqual([]);
  });

  test("a direct message runs with source_channel @alice:server and is answered in the direct chat", async () => {
    const exec = await run("!st2 packs list", mx.directRoom("alice", "st2bot")!);
    expect(exec.apiUser).toBe("@alice:emu.test");
    expect(exec.sourceChannel).toBe("@alice:emu.test");
    expect(text(await sent.next(at("@alice:emu.test"), "the DM ack"))).toStartWith("Looking up your packs...");
    await sent.next((s) => at("@alice:emu.test")(s) && text(s).includes("completed"), "the DM result");
  });

  test("a whispered announcement reaches the person in their direct chat, not the room", async () => {
    h.st2.announce("errbot", { message: "psst, only for alice", user: "@alice:emu.test", channel: ops, whisper: true });
    const m = await sent.next((s) => text(s) === "psst, only for alice", "the whisper");
    expect(mx.describeRoom(m.roomId)).toBe("@alice:emu.test");
  });

  test("an announcement to a room alias is resolved and delivered", async () => {
    h.st2.announce("errbot", { message: "deploy finished", channel: "#ops:emu.test" });
    const m = await sent.next((s) => text(s) === "deploy finished", "the announcement");
    expect(m.roomId).toBe(ops);
  });

  test("a result with extra arrives with a formatted_body coloured from extra", async () => {
    await run("!st2 status of nginx", "#ops:emu.test");
    expect(text(await sent.next(at("#ops:emu.test"), "the ack in #ops"))).toStartWith("Checking nginx...");
    const result = await sent.next((s) => at("#ops:emu.test")(s) && text(s).startsWith("nginx is running"), "the rich result");
    expect(result.event.content).toMatchObject({ msgtype: "m.notice", format: "org.matrix.custom.html" });
    expect(result.event.content.formatted_body).toContain('data-mx-color="#2eb886"');
    expect(result.event.content.formatted_body).toMatch(/nginx is running since /);
  });

  test("addressing the bot by name in place of the prefix runs the command", async () => {
    const exec = await run("st2bot: st2 run uptime on web3", "#town:emu.test");
    expect(exec.parameters).toMatchObject({ cmd: "uptime", hosts: "web3" });
    await sent.next((s) => at("#town:emu.test")(s) && text(s).includes(`execution: ${exec.id}`), "the result to a mention");
  });

  test("429 M_LIMIT_EXCEEDED delays the messages but loses and duplicates none", async () => {
    const started = Date.now();
    const before = mx.received.length;
    mx.inject429(2, 1000);
    const exec = await run("!st2 run uptime on web4", "#ops:emu.test");
    const mine = (s: Sent) => at("#ops:emu.test")(s) && text(s).includes(exec.id);
    await waitFor("a first message after the 429s", () => mx.received.slice(before).some(mine));
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(text(await sent.next((s) => mine(s) && !text(s).includes("completed"), "the ack after the 429s"))).toStartWith("Running `uptime` on web4...");
    await sent.next((s) => mine(s) && text(s).includes(completed("core.remote")), "the result after the 429s");
    await waitFor("the outbox to drain", () => h.app.outbox.stats().pending === 0);
    expect(mx.received.filter(mine)).toHaveLength(2);
  }, 15_000);

  test("a send whose answer was lost is retried under the same transaction id and posted once", async () => {
    const before = mx.received.length;
    mx.loseAnswers(1);
    h.st2.announce("errbot", { message: "only once, please", channel: ops });
    await waitFor("the outbox to drain", () => mx.received.slice(before).some((s) => text(s) === "only once, please") && h.app.outbox.stats().pending === 0, 15_000);
    await Bun.sleep(200);
    const once = mx.received.slice(before).filter((s) => text(s) === "only once, please");
    expect(once).toHaveLength(1);
    // It was sent at least twice (the first answer never came), both times under one txn id.
    expect(mx.requests.filter((r) => r.startsWith("PUT /rooms/") && r.endsWith(`/send/m.room.message/${encodeURIComponent(once[0]!.txnId)}`)).length).toBeGreaterThanOrEqual(2);
  }, 20_000);
});
