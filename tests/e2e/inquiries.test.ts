/**
 * Inquiries end to end, set up the way StackStorm's Inquiry documentation does it: a workflow
 * started from chat (`!st2 deploy shop` in #ops) whose Orquesta `core.ask` task sets
 * `route: developers`. The emulator runs it as StackStorm does: the task execution goes
 * requested → scheduled → running → pending on the stream with the task context Orquesta
 * builds, the workflow pauses, and it resumes and is announced once answered. st2bot announces
 * the question where the workflow started, shows ids short and unique, answers with the right
 * identity and says which, and words StackStorm's refusals. Every request is checked against
 * StackStorm's OpenAPI spec.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations } from "../support/emulator.ts";
import { clientsideOptions, linkIdentity, startBot, type BotHarness } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";
import type { SentMessage } from "../../src/chat/memory.ts";
import type { ActionSpec, AliasInput } from "../../src/emulator/index.ts";
import { captureLogs } from "../../src/lib/log.ts";

const inRoom = (room: string) => (m: SentMessage) => m.target.kind === "room" && m.target.id === room;
/** A reply in `room` other than an execution's ack. */
const replyIn = (room: string) => (m: SentMessage) => inRoom(room)(m) && !m.text.startsWith("I'll take it from here");

const approve = {
  type: "object",
  properties: {
    approved: { type: "boolean", description: "Approve the deploy?", required: true },
    comment: { type: "string", description: "Anything to add" },
  },
  additionalProperties: false,
};
const signoff = { type: "object", properties: { ok: { type: "boolean", description: "Signed off?", required: true } } };

const actions: ActionSpec[] = [
  { ref: "ops.deploy", runner: "orquesta", asks: [{ task: "approve", schema: approve, route: "developers" }] },
  // Two asks in parallel: their ids are made in the same second and share 18 hex digits.
  { ref: "ops.release", runner: "orquesta", asks: [{ task: "qa_signoff", schema: signoff, route: "developers" }, { task: "ops_signoff", schema: signoff, route: "developers" }] },
  { ref: "ops.hotfix", runner: "orquesta", asks: [{ task: "approve", schema: signoff, route: "developers", users: ["bob"] }] },
];
const aliases: AliasInput[] = [
  { name: "deploy", pack: "ops", action_ref: "ops.deploy", formats: ["deploy {{app}}"] },
  { name: "release", pack: "ops", action_ref: "ops.release", formats: ["release {{version}}"] },
  { name: "hotfix", pack: "ops", action_ref: "ops.hotfix", formats: ["hotfix {{app}}"] },
];
const emulator = { actions, aliases, users: { st2admin: "Ch@ngeMe", alice: "alice-pw", bob: "bob-pw" } };

/** The pending `core.ask` executions of the workflow started last (after `since` executions). */
async function asksOf(h: BotHarness, ref: string, count: number): Promise<string[]> {
  return waitFor(`${count} pending asks of ${ref}`, () => {
    const wf = h.emulator.executions.findLast((e) => e.action.ref === ref);
    const asks = wf ? h.emulator.executions.filter((e) => e.parentId === wf.id && e.status === "pending") : [];
    return asks.length === count ? asks.map((e) => e.id) : undefined;
  });
}

const puts = (h: BotHarness) => h.emulator.requests.filter((r) => r.method === "PUT" && r.path.startsWith("/api/v1/inquiries/")).length;

describe("inquiries under standalone auth (every answer sent with the bot's API key, user st2admin)", () => {
  let h: BotHarness;
  const logs: string[] = [];
  let restoreLogs: () => void = () => {};

  beforeAll(async () => {
    h = await startBot({ emulator });
    await waitFor("stream open", () => h.app.streamState().state === "open");
    restoreLogs = captureLogs((line) => logs.push(line));
  });
  afterAll(async () => {
    restoreLogs();
    assertNoViolations(h.emulator);
    await h.stop();
  });

  test("1. an inquiry with `route: developers` is announced where the workflow was started, with the command to type", async () => {
    await h.say("!st2 deploy shop", { room: "ops", user: "alice" });
    const [id] = await asksOf(h, "ops.deploy", 1);
    const m = await h.next((x) => inRoom("ops")(x) && x.text.includes(id!), "announcement");
    expect(m.text).toBe(
      [
        `A StackStorm workflow is waiting for an answer at its task approve (inquiry ${id}):`,
        "  approved (yes or no, required): Approve the deploy?",
        "  comment (text): Anything to add",
        "Who may answer: any StackStorm user allowed to respond to inquiries.",
        "It times out 1 day after it was asked.",
        `Answer with: !st2respond ${id!.slice(-6)} approved=yes`,
      ].join("\n"),
    );
    // StackStorm publishes more than one event for the task; chat hears about it once, and only in #ops.
    h.emulator.announce("errbot", { message: "marker", channel: "#ops" });
    await h.next((x) => x.text === "marker", "marker");
    expect(h.backend.sent.filter((x) => x.text.includes(`(inquiry ${id})`))).toHaveLength(1);
    expect(logs.some((l) => l.includes("bot.inquiries: inquiry announced") && l.includes(id!))).toBe(true);
  });

  test("1. an inquiry not announced is logged at debug level with the reason", async () => {
    // Asked outside chat (e.g. `st2 run core.ask route=qa`): no chat place, no route mapping, no inquiry_channel.
    const id = h.emulator.createInquiry({ schema: signoff, route: "qa" });
    const line = await waitFor("debug line", () => logs.find((l) => l.includes(id) && l.includes("inquiry not announced")));
    expect(line).toContain("DEBUG bot.inquiries");
    expect(line).toContain(`its route \\"qa\\" has no stackstorm.inquiry_routes entry, and stackstorm.inquiry_channel is not set`);
    // Its requested/scheduled/running steps are logged too, each with why.
    await h.say("!st2 deploy blog", { room: "ops" });
    const [next] = await asksOf(h, "ops.deploy", 1);
    await waitFor("step lines", () => logs.find((l) => l.includes(next!) && l.includes("the inquiry is running, not pending")));
  });

  test("2. parallel asks: ids sharing 18 digits are shown by their unique endings; a shared fragment lists the candidates", async () => {
    await h.say("!st2 release v2", { room: "ops" });
    const [qa, ops] = await asksOf(h, "ops.release", 2);
    expect(qa!.slice(0, 18)).toBe(ops!.slice(0, 18));
    const first = await h.next((x) => inRoom("ops")(x) && x.text.includes(`(inquiry ${qa})`), "first ask");
    const second = await h.next((x) => inRoom("ops")(x) && x.text.includes(`(inquiry ${ops})`), "second ask");
    expect(first.text).toContain(`at its task qa_signoff`);
    expect(first.text).toEndWith(`Answer with: !st2respond ${qa!.slice(-6)} ok=yes (or ok=no)`);
    expect(second.text).toEndWith(`Answer with: !st2respond ${ops!.slice(-6)} ok=yes (or ok=no)`);

    const before = puts(h);
    const prefix = qa!.slice(0, 18);
    await h.say(`!st2respond ${prefix} ok=yes`, { room: "ops" });
    const several = await h.next((x) => inRoom("ops")(x) && x.text.startsWith(`"${prefix}"`), "candidates");
    expect(several.text).toStartWith(`"${prefix}" is part of the ids of `);
    expect(several.text).toContain(`\n  ${qa!.slice(-6)}  (id ${qa})`);
    expect(several.text).toContain(`\n  ${ops!.slice(-6)}  (id ${ops})`);
    expect(puts(h)).toBe(before);

    await h.say("!st2inquiries", { room: "ops" });
    const list = await h.next((x) => inRoom("ops")(x) && x.text.includes("waiting for an answer:"), "list");
    expect(list.text).toContain(`Inquiry ${qa!.slice(-6)} (id ${qa}):`);
    expect(list.text).toContain(`  Answer: !st2respond ${ops!.slice(-6)} ok=yes`);

    for (const id of [qa!, ops!]) {
      await h.say(`!st2respond ${id.slice(-6)} yes`, { room: "ops" });
      await h.next((x) => inRoom("ops")(x) && x.text.startsWith(`Thanks, inquiry ${id.slice(-6)} was answered`), "accepted");
    }
    // Both answered: the workflow resumes, finishes, and its result comes back to #ops.
    const wf = h.emulator.executions.findLast((e) => e.action.ref === "ops.release")!;
    await h.next((x) => inRoom("ops")(x) && x.text.includes("Action ops.release completed") && x.text.includes(wf.id), "workflow result");
  });

  test("3. the answer says it was sent as the bot's StackStorm user; a refusal says who may answer and where", async () => {
    const [id] = await asksOf(h, "ops.deploy", 1);
    await h.say(`!st2respond ${id!.slice(-6)} approved=yes comment="ship it"`, { room: "ops", user: "alice" });
    const ok = await h.next((x) => inRoom("ops")(x) && x.text.startsWith("Thanks"), "accepted");
    expect(ok.text).toBe(
      `Thanks, inquiry ${id!.slice(-6)} was answered as st2bot's own StackStorm user st2admin (st2bot answers inquiries with its own credential here): ` +
        `approved=yes, comment="ship it". The workflow can continue.`,
    );
    expect(h.emulator.requests.filter((r) => r.method === "PUT").at(-1)!.credential?.user).toBe("st2admin");

    await h.say("!st2 hotfix shop", { room: "ops", user: "alice" });
    const [bobs] = await asksOf(h, "ops.hotfix", 1);
    const ann = await h.next((x) => inRoom("ops")(x) && x.text.includes(`(inquiry ${bobs})`), "announcement");
    expect(ann.text).toContain("Who may answer: the StackStorm user bob.\nAnswers given in chat reach StackStorm as st2bot's own StackStorm user, so StackStorm checks that user, not you.");
    await h.say(`!st2respond ${bobs!.slice(-6)} yes`, { room: "ops", user: "bob" });
    const refused = await h.next((x) => replyIn("ops")(x) && x.text.startsWith("StackStorm did not let"), "403");
    expect(refused.text).toBe(
      `StackStorm did not let st2bot's own StackStorm user st2admin answer this inquiry: only the StackStorm user bob may answer it. ` +
        `Every answer given here reaches StackStorm as st2bot's own user, so someone who may answer needs to answer in StackStorm itself ` +
        `(the Web UI, or \`st2 inquiry respond ${bobs}\`); or an administrator can turn on client-side login (stackstorm.rbac_auth.clientside) so that people answer as themselves. ` +
        `(StackStorm says: User "st2admin" does not have permission to respond to inquiry "${bobs}".)`,
    );
    expect(h.emulator.executions.find((e) => e.id === bobs)!.status).toBe("pending");
  });

  test("1. with `[stackstorm.inquiry_routes] developers = \"#dev\"` the route's channel hears it too", async () => {
    await h.restart(`[stackstorm.inquiry_routes]\ndevelopers = "#dev"`);
    await waitFor("stream open", () => h.app.streamState().state === "open");
    await h.say("!st2 deploy api", { room: "ops" });
    const [id] = await asksOf(h, "ops.deploy", 1);
    const inOps = await h.next((x) => inRoom("ops")(x) && x.text.includes(`(inquiry ${id})`), "in #ops");
    const inDev = await h.next((x) => inRoom("dev")(x) && x.text.includes(`(inquiry ${id})`), "in #dev");
    expect(inDev.text).toBe(inOps.text);
  });

  test("4. !st2inquiries against a StackStorm answering 404 for the list says what StackStorm answered", async () => {
    h.emulator.faults.failNext(1, { status: 404, faultstring: "The resource could not be found.", pathPrefix: "/api/v1/inquiries" });
    await h.say("!st2inquiries", { room: "ops" });
    const m = await h.next((x) => replyIn("ops")(x) && x.text.startsWith("StackStorm answered"), "404");
    expect(m.text).toBe(
      "StackStorm answered 404 Not Found to GET /api/v1/inquiries (StackStorm says: The resource could not be found.). " +
        "Either this StackStorm has no inquiries API (it arrived in StackStorm 2.5) or stackstorm.api_url points at the wrong place; an administrator can check with `st2bot doctor`.",
    );
    expect(m.text).not.toContain("no inquiry with that id");
  });

  test("schema checks stop bad answers before StackStorm; StackStorm's 'already responded' comes back in plain words", async () => {
    await h.say("!st2 deploy web", { room: "ops" });
    const [id] = await asksOf(h, "ops.deploy", 1);
    const before = puts(h);
    await h.say(`!st2respond ${id} approved=maybe`, { room: "ops" });
    const wrong = await h.next((x) => inRoom("ops")(x) && x.text.includes('"approved" must be'), "type error");
    expect(wrong.text).toStartWith(`"approved" must be yes or no, not "maybe".\nThis inquiry asks for:`);
    await h.say(`!st2respond ${id} comment="ship it"`, { room: "ops" });
    const missing = await h.next((x) => inRoom("ops")(x) && x.text.startsWith("Missing"), "missing property");
    expect(missing.text).toStartWith(`Missing the required property "approved" (yes or no: Approve the deploy?).`);
    expect(puts(h)).toBe(before);
    await h.say(`!st2respond ${id} approved=yes`, { room: "ops" });
    await h.next((x) => inRoom("ops")(x) && x.text.startsWith("Thanks"), "accepted");
    await h.say(`!st2respond ${id} no`, { room: "ops" });
    expect((await h.next((x) => replyIn("ops")(x) && x.text.startsWith("This inquiry"), "already answered")).text).toBe(
      `This inquiry has already been answered, so it takes no more answers. (StackStorm says: Inquiry "${id}" has already been responded to.)`,
    );
  });
});

describe("inquiries under client-side auth (each chat user answers as the StackStorm identity they linked)", () => {
  const KEY_ENV = "ST2BOT_TEST_INQUIRIES_KEY";
  let h: BotHarness;

  beforeAll(async () => {
    h = await startBot({ emulator, ...clientsideOptions(KEY_ENV) });
    await waitFor("stream open", () => h.app.streamState().state === "open");
    await linkIdentity(h, { chatUser: "alice", st2User: "alice", password: "alice-pw" });
  });
  afterAll(async () => {
    assertNoViolations(h.emulator);
    await h.stop();
    delete process.env[KEY_ENV];
  });

  test("3. the answer names the user's own StackStorm identity; a refusal says who may answer and how to link one", async () => {
    await h.say("!st2 hotfix shop", { room: "ops", user: "alice" });
    const [id] = await asksOf(h, "ops.hotfix", 1);
    const ann = await h.next((x) => inRoom("ops")(x) && x.text.includes(`(inquiry ${id})`), "announcement");
    expect(ann.text).not.toContain("st2bot's own StackStorm user");

    await h.say(`!st2respond ${id!.slice(-6)} yes`, { room: "ops", user: "alice" });
    expect((await h.next((x) => replyIn("ops")(x) && x.text.startsWith("StackStorm did not let"), "403")).text).toBe(
      `StackStorm did not let your StackStorm user alice answer this inquiry: only the StackStorm user bob may answer it. ` +
        "If you have a StackStorm identity that may answer, link it instead: send me `!st2session_start <shared word>` in a direct message and follow the link, then answer again. " +
        `(StackStorm says: User "alice" does not have permission to respond to inquiry "${id}".)`,
    );

    await linkIdentity(h, { chatUser: "bob", st2User: "bob", password: "bob-pw" });
    await h.say(`!st2respond ${id!.slice(-6)} yes`, { room: "ops", user: "bob" });
    expect((await h.next((x) => replyIn("ops")(x) && x.text.startsWith("Thanks"), "accepted")).text).toBe(`Thanks, inquiry ${id!.slice(-6)} was answered as your StackStorm user bob: ok=yes. The workflow can continue.`);
    expect(h.emulator.requests.filter((r) => r.method === "PUT").map((r) => r.credential?.user)).toEqual(["alice", "bob"]);
  });
});
