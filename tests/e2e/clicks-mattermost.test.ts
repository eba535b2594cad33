/**
 * Inquiries answered with a click on Mattermost, end to end: the announcement carries
 * interactive message buttons (or a select) whose `integration.url` is st2bot's `POST
 * /chatops/action` and whose `integration.context` holds the single-use token; the emulator
 * clicks the way Mattermost's server does (integration request, then the response's `update`
 * applied to the post and its `ephemeral_text` shown to the clicker). The click runs as the
 * clicker's `st2respond`: the ACL refuses whom it refuses, the answer goes out with the
 * clicker's own linked identity, and a second click learns it was already answered.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations } from "../support/emulator.ts";
import { type EmuPost, type MattermostEmulator, startMattermostEmulator } from "../emulators/mattermost.ts";
import { type ClickHarness, linkIdOf, startClickBot } from "./click-harness.ts";
import { waitFor } from "../support/wait.ts";

const BOT_TOKEN = "pat-bot-clicks-0a1b2c3d4e5f6071829";
type Action = { id: string; name: string; type: string; style?: string; options?: { text: string; value: string }[]; integration?: { url: string; context: Record<string, unknown> } };
const attachmentsOf = (p: EmuPost) => (p.props.attachments as { text?: string; actions?: Action[] }[] | undefined) ?? [];
const actionsOf = (p: EmuPost) => attachmentsOf(p).flatMap((a) => a.actions ?? []);

describe("answering an inquiry with a click on Mattermost", () => {
  let mm: MattermostEmulator;
  let h: ClickHarness;

  const said = (pred: (p: EmuPost) => boolean, what: string) => waitFor(what, () => mm.received.find(pred));
  const inOps = (text: string) => (p: EmuPost) => p.channel_id === mm.channel("ops").id && p.message.includes(text);

  beforeAll(async () => {
    mm = startMattermostEmulator({
      team: { name: "st2" },
      users: [
        { username: "st2bot", token: BOT_TOKEN, is_bot: true },
        { username: "alice", first_name: "Alice", last_name: "Liddell" },
        { username: "bob" },
      ],
      channels: [{ name: "ops", type: "P", members: ["st2bot", "alice", "bob"] }],
    });
    h = await startClickBot(
      "mattermost",
      (web) => `[mattermost]\nurl = "${mm.url}"\ntoken = "${BOT_TOKEN}"\nteam = "st2"\nactions_url = "${web}/chatops/action"`,
      `[access_controls."St2:st2respond"]\ndenyusers = ["@bob"]`,
      "ST2BOT_TEST_CLICKS_MM_KEY",
    );
    mm.postAsUser({ user: "alice", channel: mm.channel("@st2bot", "alice").id, message: "!st2session_start open-sesame" });
    const link = await said((p) => p.channel_id === mm.channel("@st2bot", "alice").id && p.message.includes("/login/"), "alice's login link");
    await h.login(linkIdOf(link.message), "alice", "alice-pw");
  }, 20_000);
  afterAll(async () => {
    assertNoViolations(h.st2);
    await h.stop();
    await mm.stop();
  });

  let question: EmuPost;
  /** The question's props as first posted, buttons included. */
  let asPosted: Record<string, unknown>;

  test("a yes/no inquiry is posted with Approve and Reject buttons posting back to st2bot, tokens only in the server-side context", async () => {
    mm.postAsUser({ user: "alice", channel: mm.channel("ops").id, message: "!st2 deploy shop" });
    const id = await h.pendingAsk("ops.deploy");
    question = await said(inOps(`(inquiry ${id})`), "the question");
    const buttons = actionsOf(question);
    expect(buttons.map((b) => [b.name, b.style, b.integration?.url])).toEqual([
      ["Approve", "good", `${h.webUrl}/chatops/action`],
      ["Reject", "danger", `${h.webUrl}/chatops/action`],
    ]);
    asPosted = structuredClone(question.props);
    const tokens = buttons.map((b) => b.integration!.context.token as string);
    for (const t of tokens) expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const stored = h.storedBytes();
    for (const t of tokens) expect(stored.includes(t)).toBe(false);
  });

  test("a click by a user the ACL refuses gets the ACL's refusal and leaves the post as it was", async () => {
    const res = await mm.click({ user: "bob", post: question.id, action: actionsOf(question)[0]!.id });
    expect(res).toEqual({ status: 200 });
    const refusal = await said((p) => p.channel_id === question.channel_id && p.message.startsWith("You're not allowed"), "the ACL's refusal");
    expect(refusal.message).toBe("You're not allowed to access this command from this user");
    expect(h.answers()).toEqual([]);
    expect(question.edit_at).toBe(0);
  });

  test("a click by a linked user answers as that user; Mattermost updates the post from the response", async () => {
    const res = await mm.click({ user: "alice", post: question.id, action: actionsOf(question)[0]!.id });
    expect(res.status).toBe(200);
    expect(h.answers()).toMatchObject([{ user: "alice", body: { response: { approved: true } } }]);
    expect(question.edit_at).toBeGreaterThan(0);
    expect(question.message).toContain("Answer with: !st2respond"); // the question stays as it was
    expect(actionsOf(question)).toEqual([]);
    expect(attachmentsOf(question).at(-1)!.text).toMatch(/^Answered by alice: approved=yes \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)\.$/);
    const thanks = await said(inOps("Thanks, inquiry"), "the answer's reply");
    expect(thanks.message).toContain("was answered as your StackStorm user alice: approved=yes.");
  });

  test("a second click (the other button, as a client that has not seen the update still shows it) is told it was already answered", async () => {
    const answered = question.props;
    question.props = asPosted; // what the stale client shows
    const res = await mm.click({ user: "alice", post: question.id, action: actionsOf(question)[1]!.id });
    question.props = answered;
    expect(res.status).toBe(200);
    expect(res.ephemeral_text).toMatch(/^This was already answered\. Answered by alice: approved=yes \(.+ UTC\)\.$/);
    expect(res.update).toBeUndefined();
    expect(h.answers()).toHaveLength(1);
  });

  test("a select: picking an option answers with that value", async () => {
    mm.postAsUser({ user: "alice", channel: mm.channel("ops").id, message: "!st2 promote shop" });
    const id = await h.pendingAsk("ops.promote");
    const p = await said(inOps(`(inquiry ${id})`), "the select question");
    const [select] = actionsOf(p);
    expect(select!.type).toBe("select");
    expect(select!.options).toEqual([{ text: "staging", value: "0" }, { text: "production", value: "1" }]);
    const res = await mm.click({ user: "alice", post: p.id, action: select!.id, option: "1" });
    expect(res.status).toBe(200);
    expect(h.answers()[1]).toMatchObject({ user: "alice", body: { response: { env: "production" } } });
  });

  test("a request to /chatops/action that is no click of ours is answered 400; a forged token runs nothing", async () => {
    const post = (body: unknown) => fetch(`${h.webUrl}/chatops/action`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await post({ hello: 1 })).status).toBe(400);
    const alice = mm.user("alice").id;
    const forged = await post({ user_id: alice, channel_id: question.channel_id, post_id: question.id, context: { token: "forged-token" } });
    expect(forged.status).toBe(200);
    expect(((await forged.json()) as { ephemeral_text: string }).ephemeral_text).toContain("expired or is no longer valid");
    // Not one of the bot's posts: refused before anything runs.
    const theirs = mm.postAsUser({ user: "alice", channel: question.channel_id, message: "hi" });
    expect((await post({ user_id: alice, channel_id: question.channel_id, post_id: theirs.id, context: { token: "x" } })).status).toBe(400);
    expect(h.answers()).toHaveLength(2);
  });
});
