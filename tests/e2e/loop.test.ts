/**
 * The ChatOps loop end to end: chat line → router → alias match → POST /aliasexecution
 * (validated against StackStorm's OpenAPI spec) → ack → stream announcement → outbox → chat.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { assertNoViolations } from "../support/emulator.ts";
import { startBot, withBot, type BotHarness } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";
import { MemoryBackend } from "../../src/chat/memory.ts";

const inRoom = (room: string) => (m: { target: { kind: string; id: string } }) => m.target.kind === "room" && m.target.id === room;

describe("the ChatOps loop", () => {
  let h: BotHarness;
  beforeAll(async () => {
    h = await startBot({ emulator: { aliases: sampleAliases, actions: sampleActions } });
    await waitFor("stream open", () => h.app.streamState().state === "open");
  });
  afterAll(async () => {
    assertNoViolations(h.emulator);
    await h.stop();
  });

  test("command → execution as the chat user → ack → result in the same room", async () => {
    await h.say("!st2 run uptime on web1", { room: "ops", user: "alice" });
    const exec = h.emulator.executions.at(-1)!;
    expect(exec.parameters).toMatchObject({ cmd: "uptime", hosts: "web1" });
    expect(exec.apiUser).toBe("alice");
    expect(exec.sourceChannel).toBe("#ops");
    expect(exec.notifyRoute).toBe("errbot");
    expect(exec.sourceContext).toMatchObject({ backend: "memory", room: "ops", user_id: "alice" });
    const ack = await h.next(inRoom("ops"), "ack");
    expect(ack.text).toBe(`Running \`uptime\` on web1... (details available at ${h.emulator.url}/#/history/${exec.id}/general)`);
    const result = await h.next((m) => inRoom("ops")(m) && m.text.includes("completed"), "result");
    expect(result.text).toContain(`Action core.remote completed.`);
    expect(result.text).toContain(`execution: ${exec.id}`);
  });

  test("a command in a thread is answered in that thread, ack and result", async () => {
    await h.say("!st2 status of nginx", { room: "ops", thread: "T-42" });
    const ack = await h.next((m) => m.target.kind === "room" && (m.target as { thread?: string }).thread === "T-42", "ack in thread");
    expect(ack.text).toStartWith("Checking nginx...");
    const result = await h.next((m) => m.text.startsWith("nginx is running"), "result");
    expect(result.target).toMatchObject({ kind: "room", id: "ops", thread: "T-42" });
    expect(result.extra).toMatchObject({ color: "#2eb886" });
  });

  test("a direct message is answered directly", async () => {
    await h.say("!st2 packs list", { user: "bob" });
    const ack = await h.next((m) => m.target.kind === "user" && m.target.id === "bob", "DM ack");
    expect(ack.text).toStartWith("Looking up your packs...");
    await h.next((m) => m.target.kind === "user" && m.target.id === "bob" && m.text.includes("completed"), "DM result");
  });

  test("an alias default fills in; ack.enabled false sends no ack", async () => {
    await h.say("!st2 deploy shop", { room: "ops" });
    expect(h.emulator.executions.at(-1)!.parameters).toMatchObject({ app: "shop", env: "staging" });
    await h.next((m) => m.text.startsWith("Deploying *shop* to staging."), "deploy ack");
    const before = h.emulator.executions.length;
    await h.say("!st2 say hi", { room: "quiet" });
    expect(h.emulator.executions.length).toBe(before + 1);
    await h.next((m) => inRoom("quiet")(m) && m.text.includes("completed"), "result without ack");
    expect(h.backend.sent.filter(inRoom("quiet")).length).toBe(1);
  });

  test("match_multiple runs one execution per hit and acks each", async () => {
    const before = h.emulator.executions.length;
    await h.say("!st2 this is a duplicate of OPS-1 and a duplicate of OPS-22", { room: "jira" });
    const created = h.emulator.executions.slice(before);
    expect(created.map((e) => e.parameters.issue_key)).toEqual(["OPS-1", "OPS-22"]);
    await h.next((m) => inRoom("jira")(m) && m.text.includes(created[0]!.id) && !m.text.includes("completed"), "ack 1");
    await h.next((m) => inRoom("jira")(m) && m.text.includes(created[1]!.id) && !m.text.includes("completed"), "ack 2");
  });

  test("a whispered announcement goes to the user directly", async () => {
    h.emulator.announce("errbot", { message: "psst, only for you", channel: "#ops", user: "carol", whisper: true });
    const m = await h.next((x) => x.text === "psst, only for you", "whisper");
    expect(m.target).toMatchObject({ kind: "user", id: "carol" });
  });

  test("an announcement without a channel goes to the user; other routes are ignored", async () => {
    h.emulator.announce("hubot", { message: "not ours", channel: "#ops" });
    h.emulator.announce("errbot", { message: "to dave", user: "dave" });
    const m = await h.next((x) => x.text === "to dave", "user fallback");
    expect(m.target).toMatchObject({ kind: "user", id: "dave" });
    expect(h.backend.sent.some((x) => x.text === "not ours")).toBe(false);
  });

  test("help lists every alias grouped by pack, as the user would type it", async () => {
    await h.say("!st2help", { room: "help" });
    const m = await h.next(inRoom("help"), "help");
    expect(m.text).toStartWith(`StackStorm commands 1-${sampleAliases.length + 1} of ${sampleAliases.length + 1}:`);
    expect(m.text).toContain("deploy:\n  !st2 deploy <app> [to <env>] - Deploy an application");
    expect(m.text).toContain("  !st2 run {{cmd}} on {{hosts}} - Execute a command on a remote host via SSH.");
  });

  test("help pages with a hint for the next page, and filters", async () => {
    await h.say("!st2help --limit 2", { room: "help" });
    const page = await h.next(inRoom("help"), "help page");
    expect(page.text).toStartWith(`StackStorm commands 1-2 of ${sampleAliases.length + 1}:`);
    expect(page.text).toMatch(/more: !st2help --limit 2 --offset 2$/);
    await h.say("!st2help --filter DEPLOY", { room: "help" });
    const filtered = await h.next(inRoom("help"), "filtered help");
    expect(filtered.text).toStartWith("StackStorm commands 1-1 of 1:");
    await h.say("!st2help --pack nosuchpack", { room: "help" });
    expect((await h.next(inRoom("help"), "empty help")).text).toBe('No StackStorm commands found for pack "nosuchpack".');
  });

  test("no match: not found, close suggestions and a pointer to help", async () => {
    await h.say("!st2 deplo shop", { room: "err" });
    const m = await h.next(inRoom("err"), "not found");
    expect(m.text).toStartWith('Command "deplo shop" not found.');
    expect(m.text).toContain("Type !st2help to see what is available.");
  });

  // A 5xx faultstring goes to the log under an error id instead: tests/e2e/audit-log.test.ts.
  test("StackStorm's faultstring reaches the user for 400/403/404", async () => {
    for (const [status, fault, expected] of [
      [400, "Parameter validation failed", "StackStorm rejected the command: Parameter validation failed"],
      [403, "User \"bot\" doesn't have required permission", "StackStorm refused: you are not allowed to do that: User \"bot\" doesn't have required permission"],
      [404, "Action alias not found", "StackStorm could not find that: Action alias not found"],
    ] as const) {
      h.emulator.faults.failNext(1, { status, faultstring: fault, pathPrefix: "/api/v1/aliasexecution" });
      await h.say("!st2 packs list", { room: "err" });
      expect((await h.next(inRoom("err"), `error ${status}`)).text).toBe(expected);
    }
  });

  test("unknown bot commands get suggestions", async () => {
    await h.say("!st2hlep", { room: "err" });
    expect((await h.next(inRoom("err"), "unknown")).text).toContain('Did you mean "!st2help"');
  });

  test("alias changes on the stream update the cache at once", async () => {
    h.emulator.addAlias({ name: "fresh", pack: "new", action_ref: "core.local", formats: ["brand new {{thing}}"], description: "just added" });
    await waitFor("alias added", () => h.app.aliases.index.aliases.some((a) => a.name === "fresh"));
    await h.say("!st2 brand new toy", { room: "ops" });
    expect(h.emulator.executions.at(-1)!.parameters).toMatchObject({ thing: "toy" });
    h.emulator.updateAlias({ name: "fresh", pack: "new", action_ref: "core.local", formats: ["brand new {{thing}}"], enabled: false });
    await waitFor("alias disabled", () => h.app.aliases.aliases.some((a) => a.name === "fresh" && a.enabled === false));
    await h.say("!st2 brand new toy", { room: "err" });
    expect((await h.next(inRoom("err"), "disabled")).text).toBe('The action alias "new.fresh" is disabled in StackStorm.');
    h.emulator.deleteAlias("new.fresh");
    await waitFor("alias deleted", () => !h.app.aliases.aliases.some((a) => a.name === "fresh"));
  });
});

describe("operations", () => {
  test("admins see undeliverable messages and send them again; others may not", async () => {
    const backend = new MemoryBackend({ name: "memory", rooms: ["ops"] });
    await withBot({ emulator: { aliases: sampleAliases, actions: sampleActions }, backend }, async (h) => {
      await waitFor("stream open", () => h.app.streamState().state === "open");
      h.emulator.announce("errbot", { message: "to a room that does not exist", channel: "#nowhere" });
      await waitFor("dead", () => h.app.outbox.stats().dead === 1);
      await h.say("!st2outbox", { room: "ops", user: "mallory" });
      expect((await h.next(inRoom("ops"), "refusal")).text).toBe("This command requires bot-admin privileges");
      await h.say("!st2outbox", { user: "admin" });
      const list = await h.next((m) => m.target.kind === "user", "dead list");
      expect(list.text).toMatch(/^Outbox: \d+ pending, 1 undeliverable/);
      expect(list.text).toMatch(/#\d+ to channel:#nowhere .*no channel "#nowhere" on memory — "to a room that does not exist"/);
      const id = /#(\d+) to/.exec(list.text)![1]!;
      await h.say(`!st2replay ${id}`, { user: "admin" });
      expect((await h.next((m) => m.target.kind === "user", "replayed")).text).toBe("Sending 1 message(s) again.");
      await waitFor("dead again (the room still does not exist)", () => h.app.outbox.stats().dead === 1);
    });
  });

  test("GET /metrics reports delivery, stream and chat state", async () => {
    await withBot({ emulator: { aliases: sampleAliases, actions: sampleActions }, web: true }, async (h) => {
      await waitFor("stream open", () => h.app.streamState().state === "open");
      const res = await h.app.web!.app.handle(new Request("http://localhost/metrics"));
      const text = await res.text();
      expect(res.status).toBe(200);
      expect(text).toContain(`st2bot_aliases ${sampleAliases.length}`);
      expect(text).toContain("st2bot_stream_up 1");
      expect(text).toContain("st2bot_chat_up 1");
      expect(text).toContain("st2bot_outbox_dead 0");
    });
  });
});

describe("reloading aliases on demand", () => {
  test("an admin's !st2reload picks up aliases StackStorm changed without telling the stream", async () => {
    await withBot({ emulator: { aliases: sampleAliases, actions: sampleActions } }, async (h) => {
      h.emulator.setAliases([...sampleAliases, { name: "quiet_add", pack: "late", action_ref: "core.local", formats: ["late arrival {{x}}"] }]);
      await h.say("!st2 late arrival 1", { room: "ops" });
      expect((await h.next(inRoom("ops"), "not yet")).text).toStartWith('Command "late arrival 1" not found.');
      await h.say("!st2reload", { room: "ops" });
      expect((await h.next(inRoom("ops"), "refused")).text).toBe("This command requires bot-admin privileges");
      await h.say("!st2reload", { user: "admin" });
      expect((await h.next((m) => m.target.kind === "user", "reloaded")).text).toBe(`Reloaded ${sampleAliases.length + 1} action aliases from StackStorm.`);
      await h.say("!st2 late arrival 1", { room: "ops" });
      expect(h.emulator.executions.at(-1)!.parameters).toMatchObject({ x: "1" });
    });
  });
});
