/**
 * The ChatOps loop through the real Mattermost backend (`[bot] backend = "mattermost"`), end to
 * end: a person posts in the Mattermost emulator (WebSocket `posted` events) → st2bot → POST
 * /aliasexecution on the StackStorm emulator (spec-checked) → ack and result created as posts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations } from "../support/emulator.ts";
import { type EmuPost, type MattermostEmulator, startMattermostEmulator } from "../emulators/mattermost.ts";
import { completed, type LoopHarness, startLoop, taker } from "./backend-loop.ts";
import { waitFor } from "../support/wait.ts";

const BOT_TOKEN = "pat-bot-loop-0a1b2c3d4e5f60718293";

const attachments = (p: EmuPost) => (p.props.attachments as Array<Record<string, unknown>> | undefined) ?? [];
const postText = (p: EmuPost) => p.message || attachments(p).map((a) => String(a.text ?? "")).join("\n");

describe("the ChatOps loop on Mattermost", () => {
  let mm: MattermostEmulator;
  let h: LoopHarness;
  let posts: ReturnType<typeof taker<EmuPost>>;

  beforeAll(async () => {
    mm = startMattermostEmulator({
      team: { name: "st2" },
      users: [
        { username: "st2bot", token: BOT_TOKEN, is_bot: true },
        { username: "alice", first_name: "Alice", last_name: "Liddell", email: "alice@example.com" },
      ],
      channels: [
        { name: "town-square", display_name: "Town Square", members: ["st2bot", "alice"] },
        { name: "ops", type: "P", members: ["st2bot", "alice"] },
      ],
    });
    h = await startLoop("mattermost", `[mattermost]\nurl = "${mm.url}"\ntoken = "${BOT_TOKEN}"\nteam = "st2"`, {
      // Long enough that the ack is always queued before the result is announced.
      completionDelayMs: 150,
    });
    posts = taker(() => mm.received, (p) => `${mm.describeChannel(p.channel_id, "st2bot")}${p.root_id ? `/${p.root_id}` : ""}: ${postText(p)}`);
  });
  afterAll(async () => {
    await h?.stop();
    await mm?.stop();
    if (h) assertNoViolations(h.st2);
  });

  /** Alice posts `message`; resolves with the execution StackStorm received for it. */
  const run = async (message: string, channel: string, root_id?: string) => {
    const n = h.st2.executions.length;
    mm.postAsUser({ user: "alice", channel, message, ...(root_id ? { root_id } : {}) });
    return h.execution(n, `POST /aliasexecution for "${message}"`);
  };
  /** Posts in `where` (`~channel` or `@alice` for the DM) and thread (`""` = none). */
  const at = (where: string, root = "") => (p: EmuPost) => mm.describeChannel(p.channel_id, "st2bot") === where && p.root_id === root;

  test("a room command runs as @user from ~channel, ack and result come back to the channel", async () => {
    const exec = await run("!st2 run uptime on web1", "~town-square");
    expect(exec.parameters).toMatchObject({ cmd: "uptime", hosts: "web1" });
    // err-stackstorm's MattermostChatAdapter: user `@username`, source_channel str(MattermostRoom).
    expect(exec.apiUser).toBe("@alice");
    expect(exec.sourceChannel).toBe("~town-square");
    expect(exec.sourceContext).toMatchObject({ backend: "mattermost", user_id: mm.user("alice").id, room: mm.channel("town-square").id });
    const ack = await posts.next(at("~town-square"), "the ack in ~town-square");
    expect(ack.message).toBe(`Running \`uptime\` on web1... (details available at ${h.st2.url}/#/history/${exec.id}/general)`);
    const result = await posts.next((p) => at("~town-square")(p) && postText(p).includes("completed"), "the result in ~town-square");
    expect(postText(result)).toContain(completed("core.remote"));
    expect(postText(result)).toContain(`execution: ${exec.id}`);
  });

  test("a command inside a thread is answered in that thread (root_id), ack and result", async () => {
    const parent = mm.postAsUser({ user: "alice", channel: "~town-square", message: "the web tier looks slow" });
    const exec = await run("!st2 run uptime on web2", "~town-square", parent.id);
    expect(exec.sourceContext).toMatchObject({ thread: parent.id });
    const ack = await posts.next(at("~town-square", parent.id), "the ack in the thread");
    expect(ack.message).toStartWith("Running `uptime` on web2...");
    const result = await posts.next((p) => at("~town-square", parent.id)(p) && postText(p).includes("completed"), "the result in the thread");
    expect(postText(result)).toContain(`execution: ${exec.id}`);
    expect(mm.received.filter((p) => p.root_id === "" && postText(p).includes(exec.id))).toEqual([]);
  });

  test("a direct message runs with source_channel @user and is answered in the DM", async () => {
    const exec = await run("!st2 packs list", "@st2bot");
    expect(exec.apiUser).toBe("@alice");
    expect(exec.sourceChannel).toBe("@alice");
    expect((await posts.next(at("@alice"), "the DM ack")).message).toStartWith("Looking up your packs...");
    await posts.next((p) => at("@alice")(p) && postText(p).includes("completed"), "the DM result");
  });

  test("a whispered announcement reaches the person in their DM, not the room", async () => {
    h.st2.announce("errbot", { message: "psst, only for alice", user: "@alice", channel: "~town-square", whisper: true });
    const m = await posts.next((p) => p.message === "psst, only for alice", "the whisper");
    expect(mm.describeChannel(m.channel_id, "st2bot")).toBe("@alice");
  });

  test("a result with extra arrives as props.attachments coloured from extra", async () => {
    await run("!st2 status of nginx", "~ops");
    expect((await posts.next(at("~ops"), "the ack in ~ops")).message).toStartWith("Checking nginx...");
    const result = await posts.next((p) => at("~ops")(p) && postText(p).startsWith("nginx is running"), "the rich result");
    expect(attachments(result)).toHaveLength(1);
    expect(attachments(result)[0]).toMatchObject({ color: "#2eb886", text: expect.stringMatching(/^nginx is running since /) });
  });

  test("mentioning the bot in place of the prefix runs the command (Errbot's form: @st2bot st2 ...)", async () => {
    const exec = await run("@st2bot st2 run uptime on web3", "~town-square");
    expect(exec.parameters).toMatchObject({ cmd: "uptime", hosts: "web3" });
    await posts.next((p) => at("~town-square")(p) && p.message.startsWith("Running `uptime` on web3..."), "the ack to a mention");
    await posts.next((p) => at("~town-square")(p) && postText(p).includes(`execution: ${exec.id}`), "the result to a mention");
  });

  // BUG (reported, see slack-loop.test.ts): a mention does not fall back to alias matching.
  test("mentioning the bot runs an alias without the plugin prefix (hubot's form: @st2bot run ...)", async () => {
    const exec = await run("@st2bot run uptime on web5", "~town-square");
    expect(exec.parameters).toMatchObject({ cmd: "uptime", hosts: "web5" });
    await posts.next((p) => at("~town-square")(p) && postText(p).includes(`execution: ${exec.id}`), "the result to a mention");
  });

  test("429s on post creation delay the messages but lose none", async () => {
    const started = Date.now();
    const before = mm.received.length;
    mm.inject429(2, 1);
    const exec = await run("!st2 run uptime on web4", "~ops");
    const mine = (p: EmuPost) => at("~ops")(p) && postText(p).includes(exec.id);
    await waitFor("a first post after the 429s", () => mm.received.slice(before).some(mine));
    // Whichever post met the first 429 waited its 1 s Retry-After before trying again.
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect((await posts.next((p) => mine(p) && !postText(p).includes("completed"), "the ack after the 429s")).message).toStartWith("Running `uptime` on web4...");
    await posts.next((p) => mine(p) && postText(p).includes(completed("core.remote")), "the result after the 429s");
    await waitFor("the outbox to drain", () => h.app.outbox.stats().pending === 0);
    expect(mm.received.filter(mine)).toHaveLength(2);
  }, 15_000);

  // Issue 10, item 7: what a user typed, echoed back by the bot, cannot ping anyone.
  test("user text echoed back is escaped on the wire: no @channel, @all, @here or @user mention", async () => {
    mm.postAsUser({ user: "alice", channel: "~ops", message: "!st2 @channel @all (@here) @@alice mail alice@example.com" });
    const reply = await posts.next((p) => at("~ops")(p) && postText(p).includes("not found"), "the not-found reply");
    const zw = "\u200b";
    expect(reply.message).toStartWith(`Command "@${zw}channel @${zw}all (@${zw}here) @${zw}@${zw}alice mail alice@example.com" not found.`);
    const exec = await run("!st2 run uptime on @here", "~ops");
    const ack = await posts.next((p) => at("~ops")(p) && postText(p).includes(exec.id) && !postText(p).includes("completed"), "the ack");
    expect(ack.message).toStartWith(`Running \`uptime\` on @${zw}here...`);
    // Mattermost reads a mention from an @ that starts a word, followed by name characters.
    for (const p of [reply, ack]) expect(p.message).not.toMatch(/(?<![\p{L}\p{N}])@[\p{L}\p{N}_.-]/u);
  });
});
