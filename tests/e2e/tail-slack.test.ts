/**
 * Live output on Slack, end to end: the StackStorm emulator prints an execution's output over
 * time on its stream; st2bot follows it into ONE message in the thread, edited with chat.update
 * at most once per `live_output_interval`, capped to the tail of the output with a link to the
 * rest, closed with the final status, and a closing line through the outbox.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations } from "../support/emulator.ts";
import { type PostedMessage, SlackEmulator } from "../emulators/slack/index.ts";
import { type LoopHarness, startLoop, taker } from "./backend-loop.ts";
import { waitFor } from "../support/wait.ts";
import { API_KEY } from "../support/bot.ts";

const ALICE = "U0ALICE";
const GENERAL = "C0GENERAL";
const INTERVAL_MS = 300;
/** 16 lines of 300 characters: more than the 3,000 a live message shows. */
const PIECES = Array.from({ length: 16 }, (_, i) => `line ${String(i).padStart(2, "0")} ${"x".repeat(291)}\n`);
const OUTPUT = PIECES.join("");

describe("live output on Slack", () => {
  let slack: SlackEmulator;
  let h: LoopHarness;
  let posts: ReturnType<typeof taker<PostedMessage>>;

  beforeAll(async () => {
    slack = SlackEmulator.start();
    h = await startLoop("slack", `[slack]\nbot_token = "${slack.botToken}"\napp_token = "${slack.appToken}"\napi_url = "${slack.apiUrl}"`, {
      completionDelayMs: 50,
      stackstormToml: `live_output_interval = ${INTERVAL_MS / 1000}`,
    });
    h.st2.addAction({ ref: "ops.deploy", runner: "local-shell-cmd", output: { pieces: PIECES, intervalMs: 80 } });
    h.st2.addAlias({ name: "deploy_live", pack: "ops", action_ref: "ops.deploy", formats: ["rollout live {{app}}"], extra: { st2bot: { live_output: true } } });
    h.st2.addAlias({ name: "deploy_quiet", pack: "ops", action_ref: "ops.deploy", formats: ["rollout quietly {{app}}"] });
    await waitFor("the new aliases", () => h.app.aliases.index.size >= 2 && h.app.aliases.index.aliases.some((a) => a.name === "deploy_quiet"));
    posts = taker(() => slack.received, (p) => `${p.channel}${p.thread_ts ? `/${p.thread_ts}` : ""}: ${p.text}`);
  });
  afterAll(async () => {
    await h?.stop();
    await slack?.stop();
    if (h) assertNoViolations(h.st2);
  });

  const updatesOf = (ts: string) => slack.calls.filter((c) => c.method === "chat.update" && c.args.ts === ts);

  test("an alias that opts in is followed after its ack: one message in the thread, edited, capped, closed with the status", async () => {
    const asked = slack.postUserMessage({ user: ALICE, channel: GENERAL, text: "!st2 rollout live shop", thread_ts: "1700000000.000100" });
    const ex = await waitFor("the execution", () => h.st2.executions.find((e) => e.action.ref === "ops.deploy"));
    expect(asked.channel).toBe(GENERAL);
    const ack = await posts.next((p) => p.text?.includes("Your execution ID") === true || p.text?.includes("I'll take it") === true, "the ack");
    const live = await posts.next((p) => p.text?.startsWith("⏳ ops.deploy") === true, "the live message");
    // The ack goes first; the live message is in the same thread.
    expect(Number(live.ts)).toBeGreaterThan(Number(ack.ts));
    expect(live.thread_ts).toBe("1700000000.000100");
    const closing = await posts.next((p) => p.text?.startsWith("✅ ops.deploy") === true, "the closing line", 15_000);
    expect(closing.text).toContain("succeeded after");
    expect(closing.text).toContain(`/#/history/${ex.id}/general`);
    expect(closing.thread_ts).toBe("1700000000.000100");
    // The live message, as it stands: final status, the tail of the output, the link to the rest.
    const final = slack.received.find((p) => p.ts === live.ts)!;
    expect(final.text).toStartWith("✅ ops.deploy");
    expect(final.text).toContain(PIECES.at(-1)!.trim());
    expect(final.text).not.toContain("line 00");
    expect(final.text).toMatch(/\(\d[\d,]* earlier characters not shown: full output at http:\/\/127\.0\.0\.1:\d+\/#\/history\/[0-9a-f]{24}\/general\)$/);
    expect(final.text!.length).toBeLessThan(3000 + 400);
    const shown = /```\n([\s\S]*)\n```/.exec(final.text!)![1]!;
    expect(OUTPUT).toEndWith(shown + "\n");
    // Edited in place, at most once per interval (the run takes ~1.3 s).
    const updates = updatesOf(live.ts);
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.length).toBeLessThanOrEqual(Math.ceil(2000 / INTERVAL_MS) + 2);
    const times = [live, ...updates].map((u) => ("at" in u ? (u as { at: number }).at : 0)).slice(1);
    for (let i = 1; i < times.length - 1; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(INTERVAL_MS * 0.8);
    // One live message, not a sequence (besides it: the ack, the closing line, and the result the notify rule posts).
    expect(slack.received.filter((p) => /^(⏳|✅)/.test(p.text ?? "") && p.ts !== live.ts && p !== closing)).toEqual([]);
  }, 20_000);

  test("!st2 tail <short id> follows a running execution; a 429 on chat.update is waited out; other replies are not held up", async () => {
    slack.postUserMessage({ user: ALICE, channel: GENERAL, text: "!st2 rollout quietly shop" });
    const n = h.st2.executions.length;
    const ex = await waitFor("the execution", () => h.st2.executions.find((e, i) => i >= n - 1 && e.action.ref === "ops.deploy" && e.status !== "succeeded"));
    await posts.next((p) => p.text?.includes(ex.id) === true, "the ack");
    slack.rateLimit("chat.update", 1, 1);
    slack.postUserMessage({ user: ALICE, channel: GENERAL, text: `!st2 tail ${ex.id.slice(-8)}` });
    const live = await posts.next((p) => p.text?.startsWith("⏳ ops.deploy") === true && p.channel === GENERAL, "the live message");
    // Meanwhile another command's reply is delivered at once.
    slack.postUserMessage({ user: ALICE, channel: GENERAL, text: "!st2 run uptime on web1" });
    const other = await posts.next((p) => p.text?.startsWith("Running `uptime`") === true, "the other ack");
    const closing = await posts.next((p) => p.text?.startsWith("✅ ops.deploy") === true, "the closing line", 15_000);
    expect(Number(other.ts)).toBeLessThan(Number(closing.ts));
    const updates = updatesOf(live.ts);
    const limited = updates.findIndex((u) => u.status === 429);
    expect(limited).toBeGreaterThanOrEqual(0);
    const next = updates[limited + 1];
    expect(next).toBeDefined();
    expect(next!.at - updates[limited]!.at).toBeGreaterThanOrEqual(950);
    expect(slack.received.find((p) => p.ts === live.ts)!.text).toStartWith("✅ ops.deploy");
  }, 20_000);

  test("under st2bot's own identity, an execution not started through an alias is not followed", async () => {
    const res = await fetch(`${h.st2.apiUrl}/executions`, { method: "POST", headers: { "St2-Api-Key": API_KEY, "content-type": "application/json" }, body: JSON.stringify({ action: "ops.deploy" }) });
    const ex = (await res.json()) as { id: string };
    slack.postUserMessage({ user: ALICE, channel: GENERAL, text: `!st2 tail ${ex.id}` });
    const refused = await posts.next((p) => p.text?.includes("I follow only executions started through") === true, "the refusal");
    expect(refused.text).toContain(ex.id);
    await Bun.sleep(INTERVAL_MS * 2);
    expect(h.st2.requests.some((r) => r.path === `/api/v1/executions/${ex.id}/output`)).toBe(false);
  });

  test("a fragment that names nothing, and a missing id, get a plain answer", async () => {
    slack.postUserMessage({ user: ALICE, channel: GENERAL, text: "!st2 tail ffffffffff" });
    const none = await posts.next((p) => p.text?.includes("ffffffffff") === true, "the refusal");
    expect(none.text).toContain("type the whole id");
    slack.postUserMessage({ user: ALICE, channel: GENERAL, text: "!st2 tail" });
    const usage = await posts.next((p) => p.text?.startsWith("Usage") === true, "the usage");
    expect(usage.text).toBe("Usage: !st2 tail &lt;execution id&gt;");
  });
});
