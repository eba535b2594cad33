/**
 * Live output edited in place on Mattermost (post patch), Matrix (`m.replace`) and Rocket.Chat
 * (`chat.update`), end to end through each backend and its wire-level emulator: one message,
 * edited while the StackStorm emulator prints, ending with the final status and the output's
 * tail; the closing line arrives as an ordinary message. (Slack, the cap and rate limits in
 * depth: tail-slack.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations } from "../support/emulator.ts";
import { type EmuPost, type MattermostEmulator, startMattermostEmulator } from "../emulators/mattermost.ts";
import { type MatrixEmulator, type Sent, startMatrixEmulator } from "../emulators/matrix/index.ts";
import { type EmuMessage, type RocketChatEmulator, startRocketChatEmulator } from "../emulators/rocketchat.ts";
import { type LoopHarness, startLoop } from "./backend-loop.ts";
import { waitFor } from "../support/wait.ts";

const INTERVAL_MS = 250;
const PIECES = Array.from({ length: 10 }, (_, i) => `step ${i} of the rollout\n`);
const LIVE = { stackstormToml: `live_output_interval = ${INTERVAL_MS / 1000}`, completionDelayMs: 30 };

/** The printing action and an alias that follows it live. */
async function addLiveAlias(h: LoopHarness): Promise<void> {
  h.st2.addAction({ ref: "ops.deploy", runner: "local-shell-cmd", output: { pieces: PIECES, intervalMs: 100 } });
  h.st2.addAlias({ name: "deploy_live", pack: "ops", action_ref: "ops.deploy", formats: ["rollout live {{app}}"], extra: { st2bot: { live_output: true } } });
  await waitFor("the new alias", () => h.app.aliases.index.aliases.some((a) => a.name === "deploy_live"));
}

/** What every backend must show: the live message ended final, with the last step, edited a few times, and a closing line. */
function expectFinished(final: string, edits: number, closing: string | undefined, minEdits = 2): void {
  expect(final).toStartWith("✅ ops.deploy");
  expect(final).toContain("step 9 of the rollout");
  expect(edits).toBeGreaterThanOrEqual(minEdits);
  expect(edits).toBeLessThanOrEqual(Math.ceil(2500 / INTERVAL_MS) + 2);
  expect(closing).toContain("succeeded after");
}

describe("live output on Mattermost", () => {
  const TOKEN = "pat-bot-tail-0a1b2c3d4e5f60718293";
  let mm: MattermostEmulator;
  let h: LoopHarness;
  beforeAll(async () => {
    mm = startMattermostEmulator({
      team: { name: "st2" },
      users: [{ username: "st2bot", token: TOKEN, is_bot: true }, { username: "alice" }],
      channels: [{ name: "town-square", members: ["st2bot", "alice"] }],
    });
    h = await startLoop("mattermost", `[mattermost]\nurl = "${mm.url}"\ntoken = "${TOKEN}"\nteam = "st2"`, LIVE);
    await addLiveAlias(h);
  });
  afterAll(async () => {
    await h?.stop();
    await mm?.stop();
    if (h) assertNoViolations(h.st2);
  });

  test("one post, patched in place, and a 429 on a patch waited out", async () => {
    mm.postAsUser({ user: "alice", channel: "town-square", message: "!st2 rollout live shop" });
    const live = await waitFor("the live post", () => mm.received.find((p: EmuPost) => p.message.includes("ops.deploy") && p.edit_at === 0 && p.message.startsWith("⏳")));
    mm.inject429(1, 1);
    const closing = await waitFor("the closing line", () => mm.received.find((p) => p.id !== live.id && p.message.startsWith("✅ ops.deploy")), 15_000);
    const edits = mm.edits.filter((e) => e.post.id === live.id);
    // The 429 asked for 1 s, most of the run: at least the final patch follows it.
    expectFinished(mm.posts.get(live.id)!.message, edits.length, closing.message, 1);
    expect(mm.requests.filter((r) => r === `PUT /api/v4/posts/${live.id}/patch`).length).toBe(edits.length + 1);
  }, 20_000);
});

describe("live output on Matrix", () => {
  const TOKEN = "syt_c3QyYm90_tail0token0a1b2c3";
  let mx: MatrixEmulator;
  let h: LoopHarness;
  beforeAll(async () => {
    mx = startMatrixEmulator({
      bot: "st2bot",
      users: [{ name: "st2bot", tokens: [TOKEN] }, { name: "alice" }],
      rooms: [{ alias: "#ops:emu.test", members: ["alice", "st2bot"] }],
    });
    h = await startLoop("matrix", `[matrix]\nhomeserver = "${mx.url}"\naccess_token = "${TOKEN}"\nrooms = ["#ops:emu.test"]`, LIVE);
    await addLiveAlias(h);
  });
  afterAll(async () => {
    await h?.stop();
    await mx?.stop();
    if (h) assertNoViolations(h.st2);
  });

  test("one event, replaced with m.replace edits that mention no one", async () => {
    mx.say("alice", "#ops:emu.test", "!st2 rollout live shop");
    const body = (s: Sent) => String(s.event.content.body ?? "");
    const live = await waitFor("the live message", () => mx.received.find((s) => body(s).startsWith("⏳ ops.deploy")));
    const closing = await waitFor("the closing line", () => mx.received.find((s) => body(s).startsWith("✅ ops.deploy")), 15_000);
    const edits = mx.editsOf(live.event.event_id);
    expectFinished(String(mx.current(live.event.event_id)!.body), edits.length, body(closing));
    for (const e of edits) {
      expect(e.event.content["m.mentions"]).toEqual({});
      expect(body(e)).toStartWith("* ");
    }
  }, 20_000);
});

describe("live output on Rocket.Chat", () => {
  const TOKEN = "pat-RC-tail-5fT8gH2jK4mN6pQ9";
  let rc: RocketChatEmulator;
  let h: LoopHarness;
  beforeAll(async () => {
    rc = startRocketChatEmulator({
      users: [{ username: "st2bot", token: TOKEN }, { username: "alice" }],
      rooms: [{ name: "general", members: ["st2bot", "alice"] }],
    });
    h = await startLoop("rocketchat", `[rocketchat]\nurl = "${rc.url}"\nuser_id = "${rc.user("st2bot")._id}"\ntoken = "${TOKEN}"`, LIVE);
    await addLiveAlias(h);
  });
  afterAll(async () => {
    await h?.stop();
    await rc?.stop();
    if (h) assertNoViolations(h.st2);
  });

  test("one message, updated with chat.update", async () => {
    rc.userSays({ user: "alice", room: "general", text: "!st2 rollout live shop" });
    const live = await waitFor("the live message", () => rc.received.find((m: EmuMessage) => m.msg.startsWith("⏳ ops.deploy")));
    const closing = await waitFor("the closing line", () => rc.received.find((m) => m._id !== live._id && m.msg.startsWith("✅ ops.deploy")), 15_000);
    const edits = rc.edits.filter((e) => e.message._id === live._id);
    expectFinished(rc.messages.get(live._id)!.msg, edits.length, closing.msg);
  }, 20_000);
});
