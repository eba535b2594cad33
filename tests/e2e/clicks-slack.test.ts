/**
 * Inquiries answered with a click on Slack, end to end: the announcement carries Block Kit
 * buttons (yes/no) or a select (listed values) whose values are single-use tokens; a click
 * arrives over Socket Mode as an `interactive` envelope with a `block_actions` payload, is acked,
 * and is run as the `st2respond` command it stands for, as the person who clicked: the ACL
 * refuses whom it refuses, the answer reaches StackStorm with the clicker's own linked identity,
 * the message is updated (chat.update) to say who answered what and when, and a second click is
 * told (ephemerally) that it was already answered. No usable token is ever stored in clear.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations } from "../support/emulator.ts";
import { type PostedMessage, SlackEmulator } from "../emulators/slack/index.ts";
import { type ClickHarness, linkIdOf, startClickBot } from "./click-harness.ts";
import { waitFor } from "../support/wait.ts";

type Block = Record<string, unknown> & { elements?: Record<string, unknown>[] };
const blocksOf = (m: PostedMessage) => (m.blocks ?? []) as Block[];
const actionElements = (m: PostedMessage) => blocksOf(m).filter((b) => b.type === "actions").flatMap((b) => b.elements ?? []);

describe("answering an inquiry with a click on Slack", () => {
  let slack: SlackEmulator;
  let h: ClickHarness;

  const said = (pred: (m: PostedMessage) => boolean, what: string) => waitFor(what, () => slack.received.find(pred));
  const inGeneral = (text: string) => (m: PostedMessage) => m.channel === "C0GENERAL" && (m.text ?? "").includes(text);

  beforeAll(async () => {
    slack = SlackEmulator.start();
    h = await startClickBot(
      "slack",
      () => `[slack]\nbot_token = "${slack.botToken}"\napp_token = "${slack.appToken}"\napi_url = "${slack.apiUrl}"`,
      // Bob may use the bot, but not answer inquiries.
      `[access_controls."St2:st2respond"]\ndenyusers = ["U0BOB"]`,
      "ST2BOT_TEST_CLICKS_SLACK_KEY",
    );
    // Alice links her own StackStorm identity (client-side auth): answers go out as her.
    slack.postUserMessage({ user: "U0ALICE", text: "!st2session_start open-sesame" });
    const link = await said((m) => m.channel === slack.imFor("U0ALICE") && (m.text ?? "").includes("/login/"), "alice's login link");
    await h.login(linkIdOf(link.text!), "alice", "alice-pw");
  }, 20_000);
  afterAll(async () => {
    assertNoViolations(h.st2);
    await h.stop();
    await slack.stop();
  });

  let question: PostedMessage;
  let id: string;

  test("a yes/no inquiry is announced with Approve and Reject buttons under its text; the tokens are never stored in clear", async () => {
    slack.postUserMessage({ user: "U0ALICE", channel: "C0GENERAL", text: "!st2 deploy shop" });
    id = await h.pendingAsk("ops.deploy");
    question = await said(inGeneral(`(inquiry ${id})`), "the question");
    const [section, actions] = blocksOf(question);
    expect(section).toEqual({ type: "section", text: { type: "mrkdwn", text: question.text! } });
    expect(question.text).toContain("Answer with: !st2respond"); // the typed way stays
    expect(actions!.type).toBe("actions");
    const buttons = actionElements(question);
    expect(buttons.map((b) => [(b.text as { text: string }).text, b.style])).toEqual([["Approve", "primary"], ["Reject", "danger"]]);
    const tokens = buttons.map((b) => b.value as string);
    for (const t of tokens) expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(tokens).size).toBe(2);
    const stored = h.storedBytes();
    for (const t of tokens) expect(stored.includes(t)).toBe(false);
  });

  test("a click by a user the ACL refuses gets the same refusal as typing !st2respond, and changes nothing", async () => {
    const approve = actionElements(question)[0]!.value as string;
    const envelope = slack.click({ user: "U0BOB", channel: "C0GENERAL", ts: question.ts, value: approve });
    const refusal = await said((m) => m.channel === "C0GENERAL" && (m.text ?? "").startsWith("You're not allowed"), "the ACL's refusal");
    expect(refusal.text).toBe("You're not allowed to access this command from this user");
    await waitFor("the click's ack", () => slack.acks.includes(envelope));
    expect(h.answers()).toEqual([]);
    expect(question.edits).toBeUndefined();
  });

  test("a click by a linked user answers as that user; a second click right after is told, to that person only, that it was already answered", async () => {
    const [approve, reject] = actionElements(question).map((b) => b.value as string);
    // A double click: both reach st2bot before the message changes; one answer goes to StackStorm.
    slack.click({ user: "U0ALICE", channel: "C0GENERAL", ts: question.ts, value: approve! });
    slack.click({ user: "U0ALICE", channel: "C0GENERAL", ts: question.ts, value: reject! });
    const thanks = await said(inGeneral("Thanks, inquiry"), "the answer's reply");
    expect(thanks.text).toContain("was answered as your StackStorm user alice: approved=yes.");
    const told = await waitFor("the ephemeral answer", () => slack.ephemerals.find((e) => e.user === "U0ALICE"));
    expect(told.channel).toBe("C0GENERAL");
    expect(told.text).toMatch(/^This was already answered\. Answered by Alice: approved=yes \(.+ UTC\)\.$/);
    expect(h.answers()).toMatchObject([{ user: "alice", body: { response: { approved: true } } }]);
  });

  test("the answered message shows who answered what and when, its question kept, its buttons gone", async () => {
    await waitFor("the message update", () => question.edits === 1);
    expect(actionElements(question)).toEqual([]);
    const note = blocksOf(question).at(-1)!;
    expect(note.type).toBe("context");
    expect(JSON.stringify(note)).toMatch(/Answered by Alice: approved=yes \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)\./);
    expect(question.text).toContain(`(inquiry ${id})`);
    expect(blocksOf(question)[0]).toMatchObject({ type: "section" });
  });

  test("a listed-values inquiry gets a select; picking an option answers with that value", async () => {
    slack.postUserMessage({ user: "U0ALICE", channel: "C0GENERAL", text: "!st2 promote shop" });
    const pick = await h.pendingAsk("ops.promote");
    const m = await said(inGeneral(`(inquiry ${pick})`), "the select question");
    const [select] = actionElements(m);
    expect(select!.type).toBe("static_select");
    const options = select!.options as { text: { text: string }; value: string }[];
    expect(options.map((o) => o.text.text)).toEqual(["staging", "production"]);
    slack.click({ user: "U0ALICE", channel: "C0GENERAL", ts: m.ts, option: options[1]!.value });
    await said(inGeneral(`Thanks, inquiry`) , "the answer's reply");
    await waitFor("the promote answer", () => h.answers().length === 2);
    expect(h.answers()[1]).toMatchObject({ user: "alice", body: { response: { env: "production" } } });
  });

  test("an inquiry a click cannot answer (free text) gets no controls: the typed command, as before", async () => {
    slack.postUserMessage({ user: "U0ALICE", channel: "C0GENERAL", text: "!st2 explain shop" });
    const why = await h.pendingAsk("ops.explain");
    const m = await said(inGeneral(`(inquiry ${why})`), "the text question");
    expect(m.blocks).toBeUndefined();
    expect(m.text).toContain(`Answer with: !st2respond`);
  });

  test("a token st2bot never issued is refused with a clear word and runs nothing", async () => {
    slack.received.push({ ...question, ts: "1.000001", blocks: [{ type: "actions", block_id: "st2bot_actions_0", elements: [{ type: "button", action_id: "x", value: "forged-token" }] }] });
    slack.click({ user: "U0ALICE", channel: "C0GENERAL", ts: "1.000001", value: "forged-token" });
    const told = await waitFor("the refusal", () => slack.ephemerals.find((e) => e.text.includes("expired")));
    expect(told.text).toBe("That button has expired or is no longer valid. Answer with the command shown in the message instead.");
    expect(h.answers()).toHaveLength(2);
  });
});
