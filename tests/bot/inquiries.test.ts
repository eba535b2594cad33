/**
 * Inquiries in chat, piece by piece (the answer parser: inquiries-answer.test.ts): the announcement (where it goes
 * and what it says), the wiring's once-per-inquiry rule, the list rendering, and the commands run
 * against the StackStorm emulator as two different StackStorm users (client-side auth).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MemoryBackend } from "../../src/chat/memory.ts";
import type { Message } from "../../src/chat/types.ts";
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { inquiryCommands, renderInquiryList } from "../../src/bot/inquiries/commands.ts";
import { announceInquiry, inquiryOrigin, pendingInquiry, readBySchema, readInquiryEvent, type InquiryAnnouncement } from "../../src/bot/inquiries/announce.ts";
import { wireInquiries } from "../../src/bot/inquiries/wiring.ts";
import { lookupFragment, shortId, shortIds } from "../../src/bot/inquiries/ids.ts";
import { inquiryRefusal, notPermittedText } from "../../src/bot/inquiries/refusals.ts";
import type { Command, Context } from "../../src/bot/types.ts";
import { St2Client } from "../../src/st2/client.ts";
import { TokenProvider } from "../../src/st2/credentials.ts";
import type { Inquiry } from "../../src/st2/schemas.ts";
import { CommandError } from "../../src/lib/errors.ts";
import { captureLogs } from "../../src/lib/log.ts";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { chatInfo } from "../../src/bot/router.ts";
import { approve, rich } from "./inquiry-schemas.ts";

const config = (extra = ""): Config => parseConfig(`[bot]\nlog_level = "error"\n${extra}`, "<test>", {});
const ID = "5f2c0a1b2c3d4e5f60718293";

function inquiryEvent(over: { id?: string; status?: string; context?: Record<string, unknown>; result?: Record<string, unknown>; name?: string } = {}) {
  const inquiry = { schema: approve, users: ["alice"], roles: [], route: "", ttl: 1440, ...over.result };
  return {
    name: over.name ?? "st2.execution__update",
    data: {
      id: over.id ?? ID,
      status: over.status ?? "pending",
      action: { ref: "core.ask", runner_type: "inquirer" },
      runner: { name: "inquirer" },
      parameters: { schema: approve },
      result: { ...inquiry, response: {} },
      context: over.context ?? { user: "st2admin" },
    },
  };
}

/** What Orquesta puts in a `core.ask` task's context when the workflow was started from chat. */
const orquestaContext = {
  pack: "core",
  user: "st2admin",
  api_user: "alice",
  source_channel: "#ops",
  parent: { execution_id: "aaa", user: "st2admin", api_user: "alice", source_channel: "#ops", action: "ops.deploy", pack: "ops" },
  orquesta: { task_name: "approve" },
};

/** The messages of an announcement (none when it was skipped). */
const sentOf = (a: ReturnType<typeof announceInquiry>) => (a.kind === "announce" ? a.messages : []);

describe("announceInquiry", () => {
  const opts = { config: config() };

  test("posts in the chat place that started the workflow: question, who may answer, command, timeout", () => {
    const a = announceInquiry(inquiryEvent({ context: orquestaContext }), opts, (id) => id.slice(-6));
    expect(sentOf(a)).toEqual([{
      channel: "#ops",
      message: [
        `The StackStorm workflow ops.deploy is waiting for an answer at its task approve (inquiry ${ID}):`,
        "  approved (yes or no, required): Approve the deploy?",
        "Who may answer: the StackStorm user alice.",
        "Answers given in chat reach StackStorm as st2bot's own StackStorm user, so StackStorm checks that user, not you.",
        "It times out 1 day after it was asked.",
        `Answer with: !st2respond 718293 approved=yes (or approved=no)`,
      ].join("\n"),
      // One click can answer a yes/no inquiry: Approve/Reject, each the full command (buttons.ts).
      actions: [expect.objectContaining({ kind: "buttons", group: `inquiry:${ID}` })],
    }]);
  });

  test("ActionChain nesting: the outermost context's channel and thread win", () => {
    const context = {
      parent: { execution_id: "p1", source_channel: "#inner", parent: { source_channel: "#root", api_user: "bob", source_context: { thread: "T-9" } } },
      chain: { name: "ask" },
    };
    const a = announceInquiry(inquiryEvent({ context }), opts);
    expect(sentOf(a)).toEqual([expect.objectContaining({ channel: "#root", context: { thread: "T-9" } })]);
    expect(inquiryOrigin(context)).toEqual({ channel: "#root", user: "bob", thread: "T-9" });
  });

  test("only the chat user known: a direct message to them; nothing known: the default channel or nothing", () => {
    expect(sentOf(announceInquiry(inquiryEvent({ context: { api_user: "carol" } }), opts))).toEqual([expect.objectContaining({ user: "carol", whisper: true })]);
    expect(announceInquiry(inquiryEvent(), opts)).toMatchObject({
      kind: "skip",
      why: "it was not started from chat (no source_channel or api_user), it has no route, and stackstorm.inquiry_channel is not set",
    });
    expect(sentOf(announceInquiry(inquiryEvent(), { ...opts, defaultChannel: "#approvals" }))).toEqual([expect.objectContaining({ channel: "#approvals" })]);
  });

  test("any route is announced where the workflow started; inquiry_routes adds the route's own channel", () => {
    const ctx = { context: orquestaContext };
    for (const route of ["developers", "slack-devs", "errbot"]) {
      expect(sentOf(announceInquiry(inquiryEvent({ ...ctx, result: { route } }), opts)).map((m) => m.channel)).toEqual(["#ops"]);
    }
    const routed = { config: config(`[stackstorm.inquiry_routes]\ndevelopers = "#dev"\nops = "#ops"`), defaultChannel: "#approvals" };
    expect(sentOf(announceInquiry(inquiryEvent({ ...ctx, result: { route: "developers" } }), routed)).map((m) => m.channel)).toEqual(["#ops", "#dev"]);
    // The same place twice is one message; an unmapped route changes nothing.
    expect(sentOf(announceInquiry(inquiryEvent({ ...ctx, result: { route: "ops" } }), routed)).map((m) => m.channel)).toEqual(["#ops"]);
    expect(sentOf(announceInquiry(inquiryEvent({ ...ctx, result: { route: "qa" } }), routed)).map((m) => m.channel)).toEqual(["#ops"]);
    // Started outside chat: the route's channel, else inquiry_channel.
    expect(sentOf(announceInquiry(inquiryEvent({ result: { route: "developers" } }), routed)).map((m) => m.channel)).toEqual(["#dev"]);
    expect(sentOf(announceInquiry(inquiryEvent({ result: { route: "qa" } }), routed)).map((m) => m.channel)).toEqual(["#approvals"]);
    expect(announceInquiry(inquiryEvent({ result: { route: "qa" } }), opts)).toMatchObject({ kind: "skip", why: expect.stringContaining(`its route "qa" has no stackstorm.inquiry_routes entry`) });
  });

  test("other executions, finished inquiries, other events and junk are not inquiries", () => {
    expect(pendingInquiry(inquiryEvent({ status: "succeeded" }))).toBeUndefined();
    expect(pendingInquiry(inquiryEvent({ name: "st2.announcement__errbot" }))).toBeUndefined();
    const shell = inquiryEvent();
    shell.data.runner = { name: "local-shell-cmd" };
    shell.data.action.runner_type = "local-shell-cmd";
    expect(pendingInquiry(shell)).toBeUndefined();
    expect(pendingInquiry({ name: "st2.execution__create", data: "garbage" })).toBeUndefined();
    expect(pendingInquiry({ name: "st2.execution__create", data: { id: 5 } })).toBeUndefined();
  });

  test("the shortcut for ordinary executions gives the schema's verdict on every shape of record", () => {
    // Each field of the record in turn takes each kind of value (and goes missing); the verdict
    // with the shortcut must be the schema's, id and status included.
    const values: unknown[] = [undefined, null, 5, "x", "inquirer", "local-shell-cmd", "pending", [], ["inquirer"], {}, { name: "inquirer" }, { name: "python-script" }, { name: 5 }, { runner_type: "inquirer" }, { ref: "core.local", runner_type: "local-shell-cmd" }, { runner_type: 7 }, { ref: 3 }];
    const base = (): Record<string, unknown> => ({ id: "5f0a", status: "running", runner: { name: "local-shell-cmd" }, action: { ref: "core.local", runner_type: "local-shell-cmd" }, parameters: { cmd: "date" }, result: {}, context: { user: "st2admin" } });
    const records: unknown[] = ["garbage", null, [], 5, base(), inquiryEvent().data, inquiryEvent({ status: "succeeded" }).data];
    for (const key of ["id", "status", "runner", "action", "parameters", "result", "context"]) {
      for (const value of values) {
        for (const start of [base(), { ...inquiryEvent().data } as Record<string, unknown>]) {
          const record = { ...start, [key]: value };
          if (value === undefined) delete record[key];
          records.push(record);
        }
      }
    }
    let shortcut = 0;
    for (const data of records) {
      for (const name of ["st2.execution__create", "st2.execution__update", "st2.announcement__errbot"]) {
        const event = { name, data };
        const fast = readInquiryEvent(event);
        if (!name.startsWith("st2.execution")) continue;
        expect(fast).toEqual(readBySchema(event));
        if (fast.kind === "skip" && fast.why === "not an inquiry") shortcut++;
      }
    }
    // Plenty of the records are ordinary executions: the shortcut's whole domain is compared.
    expect(shortcut).toBeGreaterThan(50);
  });

  test("the command follows the bot prefix and plugin_prefix; several properties list the required ones", () => {
    const custom = parseConfig(`[bot]\nprefix = "."\nlog_level = "error"\n[stackstorm]\nplugin_prefix = "ops"`, "<t>", {});
    const a = sentOf(announceInquiry(inquiryEvent({ context: orquestaContext, result: { schema: rich, users: [], roles: ["ops", "sre"], ttl: 90 } }), { config: custom }))[0]!;
    expect(a.message).toContain(`Answer with: .opsrespond ${ID} env=staging count=<integer>`);
    expect(a.message).toContain("Who may answer: members of the StackStorm roles ops, sre.");
    expect(a.message).toContain("It times out 1 hour 30 minutes after it was asked.");
    expect(a.message).toContain("\n  tags (a list)\n");
    const anyone = sentOf(announceInquiry(inquiryEvent({ context: orquestaContext, result: { users: [], ttl: 0 } }), opts))[0]!;
    expect(anyone.message).toContain("Who may answer: any StackStorm user allowed to respond to inquiries.");
    expect(anyone.message).not.toContain("st2bot's own StackStorm user");
    expect(anyone.message).toContain("It does not time out.");
  });
});

describe("short ids", () => {
  // Two parallel asks of one workflow: same second, same process, consecutive counters.
  const a = "693a1f2e4b5c6d7e8f0a1b2c";
  const b = "693a1f2e4b5c6d7e8f0a1b2d";
  test("the shortest unique ending, at least the 6-digit counter; whole when only the start differs", () => {
    expect(shortId(a, [a, b])).toBe("0a1b2c");
    expect(shortId(a, [])).toBe("0a1b2c");
    // Same counter from another StackStorm process: the ending grows until it differs.
    const other = "693a1f2e4b1111111f" + "0a1b2c";
    expect(shortId(a, [other])).toBe("8f0a1b2c");
    expect(shortId("a" + "0".repeat(23), ["b" + "0".repeat(23)])).toBe("a" + "0".repeat(23));
    expect(shortId("0".repeat(10) + "a" + "0".repeat(13), ["0".repeat(10) + "b" + "0".repeat(13)])).toBe("0".repeat(10) + "a" + "0".repeat(13));
    // An ending that another id starts with would be ambiguous when typed back.
    expect(shortId(a, ["0a1b2c" + "f".repeat(18)])).toBe("f0a1b2c");
    expect([...shortIds([a, b]).values()]).toEqual(["0a1b2c", "0a1b2d"]);
  });
  test("a typed fragment must start or end exactly one pending id", () => {
    const pending = [{ id: a }, { id: b }];
    expect(lookupFragment("0a1b2d", pending)).toEqual({ kind: "one", item: { id: b } });
    expect(lookupFragment("693A1F2E", pending)).toEqual({ kind: "several", items: pending });
    expect(lookupFragment("0A1B2C", pending)).toEqual({ kind: "one", item: { id: a } });
    expect(lookupFragment("4b5c6d", pending)).toEqual({ kind: "none" });
    expect(lookupFragment("1b2c", pending)).toEqual({ kind: "too-short" });
  });
});

describe("wireInquiries", () => {
  test("announces each inquiry once, claims execution events, passes others on", () => {
    const sent: InquiryAnnouncement[] = [];
    const wiring = wireInquiries({ config: config(), enqueue: (a) => sent.push(a) });
    expect(wiring.events).toEqual(["st2.execution__create", "st2.execution__update"]);
    // First seen without an origin (not announced), then with one (announced), then again (not repeated).
    expect(wiring.onEvent(inquiryEvent({ name: "st2.execution__create" }))).toBe(true);
    expect(sent).toHaveLength(0);
    expect(wiring.onEvent(inquiryEvent({ context: orquestaContext }))).toBe(true);
    expect(wiring.onEvent(inquiryEvent({ context: orquestaContext }))).toBe(true);
    expect(sent).toHaveLength(1);
    expect(wiring.onEvent({ name: "st2.announcement__errbot", data: { payload: { message: "x" } } })).toBe(false);
    expect(wiring.onEvent({ name: "st2.execution__update", data: { id: "x", status: "succeeded", runner: { name: "python-script" } } })).toBe(true);
    expect(sent).toHaveLength(1);
  });
});

describe("wireInquiries: short ids and the debug log", () => {
  test("the shown id is unique among the inquiries pending on the stream; answered ones are forgotten", () => {
    const sent: InquiryAnnouncement[] = [];
    const lines: string[] = [];
    const restore = captureLogs((l) => lines.push(l));
    try {
      const wiring = wireInquiries({ config: config(), enqueue: (a) => sent.push(a) });
      const a = "693a1f2e4b5c6d7e8f0a1b2c";
      // Another StackStorm process, same counter value: the ending must grow to tell them apart.
      const b = "693a1f2e4b1111111f0a1b2c";
      const c = "693a1f2e4b2222222f0a1b2c";
      wiring.onEvent(inquiryEvent({ id: a, context: orquestaContext }));
      wiring.onEvent(inquiryEvent({ id: b, context: orquestaContext }));
      expect(sent.map((m) => m.message.split("\n").at(-1))).toEqual([
        "Answer with: !st2respond 0a1b2c approved=yes (or approved=no)",
        "Answer with: !st2respond 1f0a1b2c approved=yes (or approved=no)",
      ]);
      // a and b answered: c no longer needs a longer ending.
      wiring.onEvent(inquiryEvent({ id: a, status: "succeeded" }));
      wiring.onEvent(inquiryEvent({ id: b, status: "succeeded" }));
      wiring.onEvent(inquiryEvent({ id: c, context: orquestaContext }));
      expect(sent.at(-1)!.message).toEndWith("Answer with: !st2respond 0a1b2c approved=yes (or approved=no)");
      // Not announced, each with its reason; other executions stay out of the log.
      wiring.onEvent(inquiryEvent({ id: c, context: orquestaContext }));
      wiring.onEvent(inquiryEvent({ id: "6".repeat(24), status: "running" }));
      wiring.onEvent({ name: "st2.execution__update", data: { id: "7".repeat(24), status: "running", runner: { name: "python-script" } } });
      const why = lines.filter((l) => l.includes("inquiry not announced")).map((l) => /"why":"([^"]*)"/.exec(l)?.[1]);
      expect(why).toEqual(["the inquiry is succeeded, not pending", "the inquiry is succeeded, not pending", "it was announced already", "the inquiry is running, not pending"]);
      expect(lines.every((l) => !l.includes("7".repeat(24)))).toBe(true);
    } finally {
      restore();
    }
  });

  test("inquiry_routes must name a channel", () => {
    expect(() => config(`[stackstorm.inquiry_routes]\ndevelopers = ""`)).toThrow(/must name a channel/);
  });
});

describe("renderInquiryList and inquiryRefusal", () => {
  const inquiry = (id: string): Inquiry => ({ id, route: "", ttl: 60, users: [], roles: [], schema: approve });

  test("an empty list says so; a long list stops before the message size and says how many more", () => {
    expect(renderInquiryList({ config: config() }, [], 4000)).toBe("No StackStorm inquiries are waiting for an answer.");
    const many = Array.from({ length: 30 }, (_, i) => inquiry(`${String(i).padStart(2, "0")}${"a".repeat(22)}`));
    const text = renderInquiryList({ config: config() }, many, 1000);
    expect(text.length).toBeLessThanOrEqual(1000);
    expect(text).toStartWith("30 StackStorm inquiries are waiting for an answer:");
    // Ids that differ only at the start cannot be told apart by an ending: shown whole.
    expect(text).toContain(`Inquiry 00${"a".repeat(22)}:`);
    expect(text).toMatch(/…and \d+ more that did not fit in one message\.$/);
  });

  test("StackStorm's refusals in plain words, quoting its reason", () => {
    expect(inquiryRefusal(400, `Inquiry "x" has already been responded to.`)).toStartWith("This inquiry has already been answered");
    expect(inquiryRefusal(400, `Inquiry "x" timed out and cannot be responded to.`)).toStartWith("This inquiry timed out");
    expect(inquiryRefusal(500, "boom")).toBeUndefined();
    expect(inquiryRefusal(403, "nope")).toBeUndefined();
  });

  test("a 403 names the identity refused, who may answer, and what would help under each auth mode", () => {
    const inq = { id: ID, users: ["bob"], roles: ["sre"] };
    expect(notPermittedText(config(), { personal: true, st2User: "alice" }, inq, "nope")).toBe(
      "StackStorm did not let your StackStorm user alice answer this inquiry: only the StackStorm user bob or members of the StackStorm role sre may answer it. " +
        "If you have a StackStorm identity that may answer, link it instead: send me `!st2session_start <shared word>` in a direct message and follow the link, then answer again. (StackStorm says: nope)",
    );
    const standalone = notPermittedText(config(), { personal: false, st2User: "st2admin" }, inq, "nope");
    expect(standalone).toStartWith("StackStorm did not let st2bot's own StackStorm user st2admin answer this inquiry: only the StackStorm user bob or members");
    expect(standalone).toContain(`answer in StackStorm itself (the Web UI, or \`st2 inquiry respond ${ID}\`)`);
    expect(standalone).not.toContain("session_start");
    expect(notPermittedText(config(), { personal: false }, { id: ID, users: [], roles: [] }, "nope")).toStartWith(
      "StackStorm did not let st2bot's own StackStorm user answer this inquiry: that user lacks StackStorm's permission to respond to inquiries.",
    );
  });
});

describe("the commands against StackStorm, each chat user as their own StackStorm user", () => {
  let st2: TestEmulator;
  let commands: Command[];
  const cfg = () => parseConfig(`[bot]\nlog_level = "error"\n[stackstorm]\napi_url = "${st2.apiUrl}"\nauth_url = "${st2.authUrl}"\nstream_url = "${st2.streamUrl}"`, "<t>", {});

  beforeAll(async () => {
    st2 = await startTestEmulator({ users: { st2admin: "Ch@ngeMe", alice: "a", bob: "b" } });
    const config = cfg();
    const bot = St2Client.fromConfig(config);
    commands = inquiryCommands({
      config,
      // Client-side auth: the chat user's own token; "nobody" has not logged in.
      clientFor: async (ctx) => {
        const nick = ctx.msg.from.nick;
        if (nick === "nobody") throw new CommandError("You have not linked your StackStorm identity yet.");
        return { client: bot.withCredential(new TokenProvider(st2.createToken(nick).token)), personal: true };
      },
      expired: async () => "expired",
    });
  });
  afterAll(async () => {
    assertNoViolations(st2);
    await st2.stop();
  });

  /** Runs `!<typed>` as `nick`; returns the reply, or the CommandError's text. */
  async function say(nick: string, typed: string): Promise<string> {
    const replies: string[] = [];
    const [name = "", ...rest] = typed.split(" ");
    const msg: Message = { text: `!${typed}`, from: { id: nick, nick, aclId: `@${nick}`, st2User: nick }, direct: true };
    const ctx: Context = {
      msg,
      chat: chatInfo(new MemoryBackend(), msg),
      command: { name, args: rest.join(" ").trim(), typed },
      isAdmin: false,
      reply: async (text) => void replies.push(text),
      replySecret: async () => {},
    };
    try {
      await commands.find((c) => c.name === name)!.run(ctx);
    } catch (err) {
      if (err instanceof CommandError) return err.userMessage;
      throw err;
    }
    return replies.join("\n");
  }

  test("bob may not answer alice's inquiry; alice may, as herself; then it is no longer pending", async () => {
    const id = st2.createInquiry({ schema: approve, users: ["alice"] });
    expect(await say("bob", `st2respond ${id} yes`)).toStartWith(
      `StackStorm did not let your StackStorm user bob answer this inquiry: only the StackStorm user alice may answer it. If you have a StackStorm identity`,
    );
    expect(await say("alice", `st2respond ${id.slice(-6)} approved=yes`)).toBe(
      `Thanks, inquiry ${id.slice(-6)} was answered as your StackStorm user alice: approved=yes. The workflow can continue.`,
    );
    const put = st2.requests.filter((r) => r.method === "PUT");
    expect(put.map((r) => r.credential?.user)).toEqual(["bob", "alice"]);
    expect(st2.executions.find((e) => e.id === id)).toMatchObject({ status: "succeeded", inquiry: { response: { approved: true } } });
    expect(await say("alice", "st2inquiries")).toBe("No StackStorm inquiries are waiting for an answer.");
  });

  test("a user who has not logged in is told so before anything reaches StackStorm", async () => {
    const before = st2.requests.length;
    expect(await say("nobody", `st2respond ${ID} yes`)).toBe("You have not linked your StackStorm identity yet.");
    expect(st2.requests.length).toBe(before);
  });

  test("fragments: too short, unknown, shared by several (the candidates listed under their short ids)", async () => {
    expect(await say("alice", "st2respond 5f2c yes")).toStartWith(`"5f2c" is too short to name an inquiry: give at least 6 characters`);
    expect(await say("alice", "st2respond ffffffff yes")).toStartWith(`No pending inquiry has an id starting or ending with "ffffffff"`);
    // ObjectIds made in the same second by one process share 18 digits; a third one covers
    // the rare case of a second ticking over between the first two.
    let a = st2.createInquiry({ schema: approve });
    let b = st2.createInquiry({ schema: approve });
    if (a.slice(0, 18) !== b.slice(0, 18)) [a, b] = [b, st2.createInquiry({ schema: approve })];
    const shared = a.slice(0, 18);
    expect(await say("alice", `st2respond ${shared} yes`)).toBe(
      `"${shared}" is part of the ids of 2 pending inquiries; which one? Type one of:\n  ${a.slice(-6)}  (id ${a})\n  ${b.slice(-6)}  (id ${b})`,
    );
    expect(await say("alice", `st2respond ${b.slice(-6)} yes`)).toStartWith(`Thanks, inquiry ${b.slice(-6)} was answered`);
    // Many sharing a fragment: ten are listed, the rest counted.
    for (let i = 0; i < 11; i++) st2.createInquiry({ schema: approve });
    const wide = a.slice(0, 6);
    const sharing = st2.executions.filter((e) => e.inquiry && e.status === "pending" && (e.id.startsWith(wide) || e.id.endsWith(wide))).length;
    expect(sharing).toBeGreaterThan(10);
    const capped = await say("alice", `st2respond ${wide} yes`);
    expect(capped.split("\n").filter((l) => l.includes("(id "))).toHaveLength(10);
    expect(capped).toEndWith(`\n  …and ${sharing - 10} more: give more of the id.`);
    expect(await say("alice", "st2respond")).toStartWith("Tell me which inquiry and your answer");
  });
});
