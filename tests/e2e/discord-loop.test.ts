/**
 * The ChatOps loop through the real Discord backend (`[bot] backend = "discord"`), end to end: a
 * person writes in the Discord emulator (gateway MESSAGE_CREATE) → st2bot → POST
 * /aliasexecution on the StackStorm emulator (spec-checked) → ack and result posted back with
 * `POST /channels/{id}/messages`, each carrying the outbox's nonce.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations } from "../support/emulator.ts";
import { type DiscordEmulator, type EmuMessage, startDiscordEmulator } from "../emulators/discord.ts";
import { completed, type LoopHarness, startLoop, taker } from "./backend-loop.ts";
import { waitFor } from "../support/wait.ts";

const TOKEN = "MTE4MDAwMDAwMDAwMDAwMDAwMA.Gx9876.discord-loop-token-fedcba";
const textOf = (m: EmuMessage) => [m.content, ...m.embeds.map((e) => String(e.description ?? ""))].filter(Boolean).join("\n");

describe("the ChatOps loop on Discord", () => {
  let emu: DiscordEmulator;
  let h: LoopHarness;
  let posts: ReturnType<typeof taker<EmuMessage>>;
  let alice: { id: string; username: string };
  const ids = { general: "", ops: "", thread: "" };

  beforeAll(async () => {
    emu = startDiscordEmulator({ token: TOKEN });
    alice = emu.addUser("alice", "Alice Liddell");
    ids.general = emu.addChannel("general").id;
    ids.ops = emu.addChannel("ops").id;
    ids.thread = emu.addChannel("incident-42", ids.general).id;
    // Long enough that the ack is always queued before the result is announced.
    h = await startLoop("discord", `[discord]\ntoken = "${TOKEN}"\napi_url = "${emu.apiUrl}"`, { completionDelayMs: 150 });
    posts = taker(() => emu.received, (m) => `${emu.describe(m.channel_id)}: ${textOf(m)}`);
  });
  afterAll(async () => {
    await h?.stop();
    await emu?.stop();
    if (h) assertNoViolations(h.st2);
  });

  /** Alice writes `content` in channel `channelId`; resolves with the execution StackStorm received. */
  const run = async (content: string, channelId: string) => {
    const n = h.st2.executions.length;
    emu.say("alice", channelId, content);
    return h.execution(n, `POST /aliasexecution for "${content}"`);
  };
  const at = (where: string) => (m: EmuMessage) => emu.describe(m.channel_id) === where;

  test("a room command runs as <@id> from <#id>; ack and result come back to the channel", async () => {
    const exec = await run("!st2 run uptime on web1", ids.general);
    expect(exec.parameters).toMatchObject({ cmd: "uptime", hosts: "web1" });
    expect(exec.apiUser).toBe(`<@${alice.id}>`);
    expect(exec.sourceChannel).toBe(`<#${ids.general}>`);
    expect(exec.sourceContext).toMatchObject({ backend: "discord", user_id: alice.id, room: ids.general, room_name: "#general" });
    const ack = await posts.next(at("#general"), "the ack in #general");
    expect(ack.content).toBe(`Running \`uptime\` on web1... (details available at ${h.st2.url}/#/history/${exec.id}/general)`);
    expect(ack.nonce).toBeDefined();
    expect(ack.allowed_mentions).toMatchObject({ parse: [] });
    const result = await posts.next((m) => at("#general")(m) && textOf(m).includes("completed"), "the result in #general");
    expect(textOf(result)).toContain(completed("core.remote"));
    expect(textOf(result)).toContain(`execution: ${exec.id}`);
  });

  test("a command inside a thread runs from the parent channel and is answered in the thread", async () => {
    const exec = await run("!st2 run uptime on web2", ids.thread);
    expect(exec.sourceChannel).toBe(`<#${ids.general}>`);
    expect(exec.sourceContext).toMatchObject({ thread: ids.thread });
    expect((await posts.next(at("#general/incident-42"), "the ack in the thread")).content).toStartWith("Running `uptime` on web2...");
    const result = await posts.next((m) => at("#general/incident-42")(m) && textOf(m).includes("completed"), "the result in the thread");
    expect(textOf(result)).toContain(`execution: ${exec.id}`);
    expect(emu.received.filter((m) => m.channel_id === ids.general && textOf(m).includes(exec.id))).toEqual([]);
  });

  test("a direct message runs with source_channel <@id> and is answered in the DM", async () => {
    const exec = await run("!st2 packs list", emu.dmWith(alice.id).id);
    expect(exec.apiUser).toBe(`<@${alice.id}>`);
    expect(exec.sourceChannel).toBe(`<@${alice.id}>`);
    expect((await posts.next(at("@alice"), "the DM ack")).content).toStartWith("Looking up your packs...");
    await posts.next((m) => at("@alice")(m) && textOf(m).includes("completed"), "the DM result");
  });

  test("a whispered announcement reaches the person in their DM, not the room", async () => {
    h.st2.announce("errbot", { message: "psst, only for alice", user: `<@${alice.id}>`, channel: `<#${ids.general}>`, whisper: true });
    const m = await posts.next((x) => x.content === "psst, only for alice", "the whisper");
    expect(emu.describe(m.channel_id)).toBe("@alice");
  });

  test("err-backend-discord's strings from StackStorm reach the right place", async () => {
    h.st2.announce("errbot", { message: "to #ops by name", channel: "#ops" });
    h.st2.announce("errbot", { message: "to alice by Errbot name", user: "@alice#0", whisper: true });
    expect(emu.describe((await posts.next((x) => x.content === "to #ops by name", "#ops by name")).channel_id)).toBe("#ops");
    expect(emu.describe((await posts.next((x) => x.content === "to alice by Errbot name", "@alice#0")).channel_id)).toBe("@alice");
  });

  test("a result with extra arrives as an embed coloured from extra", async () => {
    await run("!st2 status of nginx", ids.ops);
    expect((await posts.next(at("#ops"), "the ack in #ops")).content).toStartWith("Checking nginx...");
    const result = await posts.next((m) => at("#ops")(m) && textOf(m).includes("nginx is running"), "the rich result");
    expect(result.embeds).toHaveLength(1);
    expect(result.embeds[0]).toMatchObject({ color: 0x2eb886, description: expect.stringMatching(/^nginx is running since /) });
  });

  test("mentioning the bot in place of the prefix runs the command", async () => {
    const exec = await run(`<@${emu.bot.id}> st2 run uptime on web3`, ids.general);
    expect(exec.parameters).toMatchObject({ cmd: "uptime", hosts: "web3" });
    await posts.next((m) => at("#general")(m) && textOf(m).includes(`execution: ${exec.id}`), "the result to a mention");
  });

  test("429s on message creation delay the messages but lose none, and none is posted twice", async () => {
    const started = Date.now();
    const before = emu.received.length;
    emu.inject429(2, 1);
    const exec = await run("!st2 run uptime on web4", ids.ops);
    const mine = (m: EmuMessage) => at("#ops")(m) && textOf(m).includes(exec.id);
    await waitFor("a first message after the 429s", () => emu.received.slice(before).some(mine));
    // Whichever send met the first 429 waited its 1 s Retry-After before trying again.
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect((await posts.next((m) => mine(m) && !textOf(m).includes("completed"), "the ack after the 429s")).content).toStartWith("Running `uptime` on web4...");
    await posts.next((m) => mine(m) && textOf(m).includes(completed("core.remote")), "the result after the 429s");
    await waitFor("the outbox to drain", () => h.app.outbox.stats().pending === 0);
    expect(emu.received.filter(mine)).toHaveLength(2);
    expect(emu.sendAttempts.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(2);
  }, 15_000);

  test("a gateway drop is resumed and commands keep working", async () => {
    const resumes = emu.stats.resumes;
    emu.dropGateway();
    const exec = await run("!st2 run uptime on web5", ids.general);
    expect(emu.stats.resumes).toBeGreaterThan(resumes);
    await posts.next((m) => at("#general")(m) && textOf(m).includes(`execution: ${exec.id}`), "the result after the resume");
  });
});
