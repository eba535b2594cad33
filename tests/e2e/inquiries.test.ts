/**
 * Inquiries end to end: a workflow started from chat pauses on `core.ask`; st2bot announces the
 * question in that room with the command to type; people list and answer it from chat; local
 * schema checks stop bad answers before StackStorm sees them; StackStorm's refusals (already
 * answered, not permitted) come back in plain words. Every request is checked against
 * StackStorm's OpenAPI spec.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations } from "../support/emulator.ts";
import { startBot, waitFor, type BotHarness } from "../support/bot.ts";
import type { SentMessage } from "../../src/chat/memory.ts";

const inRoom = (room: string) => (m: SentMessage) => m.target.kind === "room" && m.target.id === room;

const schema = {
  type: "object",
  properties: {
    approved: { type: "boolean", description: "Approve the deploy?", required: true },
    comment: { type: "string", description: "Anything to add" },
  },
  additionalProperties: false,
};

/**
 * Shows an inquiry on the stream as StackStorm does for a `core.ask` task of an Orquesta
 * workflow that `alice` started from `#ops`: the task's context carries `source_channel` and
 * `api_user`, and the workflow's own context under `parent`. (The emulator's `createInquiry`
 * has no workflow around it, so its own event says nothing about where it came from.)
 */
function publishFromWorkflow(h: BotHarness, id: string, inquiry: Record<string, unknown>): void {
  h.emulator.publish("st2.execution__update", {
    id,
    status: "pending",
    action: { ref: "core.ask", runner_type: "inquirer" },
    runner: { name: "inquirer" },
    parameters: { schema: inquiry.schema },
    result: { route: "", ttl: 1440, users: [], roles: [], ...inquiry, response: {} },
    context: {
      pack: "core",
      user: "st2admin",
      api_user: "alice",
      source_channel: "#ops",
      parent: { execution_id: "6000000000000000000000aa", user: "st2admin", api_user: "alice", source_channel: "#ops", action: "ops.deploy" },
      orquesta: { task_name: "approve" },
    },
  });
}

const puts = (h: BotHarness) => h.emulator.requests.filter((r) => r.method === "PUT" && r.path.startsWith("/api/v1/inquiries/")).length;

describe("inquiries answered from chat", () => {
  let h: BotHarness;
  let id: string;

  beforeAll(async () => {
    h = await startBot();
    await waitFor("stream open", () => h.app.streamState().state === "open");
    await waitFor("stream subscribed", () => h.emulator.streamCount > 0);
    id = h.emulator.createInquiry({ schema });
  });
  afterAll(async () => {
    assertNoViolations(h.emulator);
    await h.stop();
  });

  test("a pending inquiry is announced where the workflow was started, with the command to type", async () => {
    publishFromWorkflow(h, id, { schema });
    const m = await h.next((x) => inRoom("ops")(x) && x.text.includes(id), "announcement");
    expect(m.text).toBe(
      [
        `The StackStorm workflow ops.deploy is waiting for an answer (inquiry ${id}):`,
        "  approved (yes or no, required): Approve the deploy?",
        "  comment (text): Anything to add",
        "Who may answer: anyone StackStorm allows to respond to inquiries.",
        "It times out 1 day after it was asked.",
        `Answer with: !st2respond ${id} approved=yes`,
      ].join("\n"),
    );
    // StackStorm sends several `pending` updates for one inquiry; chat hears about it once.
    // A marker behind it on the stream and in the same room's delivery order proves it was handled.
    publishFromWorkflow(h, id, { schema });
    h.emulator.announce("errbot", { message: "marker", channel: "#ops" });
    await h.next((x) => x.text === "marker", "marker");
    expect(h.backend.sent.filter((x) => x.text.includes(`(inquiry ${id})`))).toHaveLength(1);
  });

  test("!st2inquiries lists it: id, what it asks, who may answer, how to answer", async () => {
    await h.say("!st2inquiries", { room: "ops" });
    const m = await h.next((x) => inRoom("ops")(x) && x.text.includes("waiting for an answer:"), "list");
    expect(m.text).toStartWith("1 StackStorm inquiry is waiting for an answer:");
    expect(m.text).toContain(`Inquiry ${id}:\n  approved (yes or no, required): Approve the deploy?\n  comment (text): Anything to add`);
    expect(m.text).toContain(`  Answer: !st2respond ${id} approved=yes`);
  });

  test("a wrong type or a missing required property is refused here, and nothing is sent", async () => {
    const before = puts(h);
    await h.say(`!st2respond ${id} approved=maybe`, { room: "ops" });
    const wrong = await h.next((x) => inRoom("ops")(x) && x.text.includes('"approved" must be'), "type error");
    expect(wrong.text).toStartWith(`"approved" must be yes or no, not "maybe".\nThis inquiry asks for:`);
    expect(wrong.text).toContain(`For example: !st2respond ${id} approved=yes`);
    await h.say(`!st2respond ${id} comment="ship it"`, { room: "ops" });
    const missing = await h.next((x) => inRoom("ops")(x) && x.text.startsWith("Missing"), "missing property");
    expect(missing.text).toStartWith(`Missing the required property "approved" (yes or no: Approve the deploy?).`);
    expect(puts(h)).toBe(before);
    expect(h.emulator.executions.find((e) => e.id === id)!.status).toBe("pending");
  });

  test("an id prefix answers it; StackStorm records the answer and it is no longer pending", async () => {
    await h.say(`!st2respond ${id.slice(0, 10)} approved=yes comment="ship it"`, { room: "ops" });
    const m = await h.next((x) => inRoom("ops")(x) && x.text.startsWith("Thanks"), "accepted");
    expect(m.text).toBe(`Thanks, your answer to inquiry ${id} was accepted (approved=yes, comment="ship it"); the workflow can continue.`);
    expect(h.emulator.executions.find((e) => e.id === id)).toMatchObject({ status: "succeeded", inquiry: { response: { approved: true, comment: "ship it" } } });
    await h.say("!st2inquiries", { room: "ops" });
    expect((await h.next(inRoom("ops"), "empty list")).text).toBe("No StackStorm inquiries are waiting for an answer.");
  });

  test("a second answer gets StackStorm's 'already responded' in plain words", async () => {
    await h.say(`!st2respond ${id} no`, { room: "ops" });
    const m = await h.next(inRoom("ops"), "already answered");
    expect(m.text).toBe(`This inquiry has already been answered, so it takes no more answers. (StackStorm says: Inquiry "${id}" has already been responded to.)`);
    await h.say(`!st2respond ${id.slice(0, 10)} no`, { room: "ops" });
    expect((await h.next(inRoom("ops"), "prefix of an answered one")).text).toStartWith(
      `No pending inquiry has an id starting with "${id.slice(0, 10)}" (it may have been answered or timed out already).`,
    );
  });

  test("an inquiry for other StackStorm users: the chat user is told they may not answer it", async () => {
    const bobs = h.emulator.createInquiry({ schema, users: ["bob"] });
    await h.say(`!st2respond ${bobs} approved=yes`, { room: "ops" });
    const m = await h.next(inRoom("ops"), "403");
    // The bot answers with its own API key here (st2admin); under client-side auth it is the user's own.
    expect(m.text).toBe(
      `You are not allowed to answer this inquiry as your StackStorm user. Only the StackStorm user bob may answer it. ` +
        `(StackStorm says: User "st2admin" does not have permission to respond to inquiry "${bobs}".)`,
    );
    expect(h.emulator.executions.find((e) => e.id === bobs)!.status).toBe("pending");
  });
});
