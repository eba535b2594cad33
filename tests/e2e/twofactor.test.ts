/**
 * hubot-stackstorm's two-factor confirmation end to end: an alias marked
 * `extra.security.twofactor` starts the configured 2FA action instead of running, and runs (with
 * its ack) only when StackStorm announces the confirmation's uuid on `st2.announcement__2fa`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { AliasInput } from "../../src/emulator/index.ts";
import { TWOFACTOR_MESSAGE } from "../../src/bot/twofactor.ts";
import { assertNoViolations } from "../support/emulator.ts";
import { API_KEY, clientsideOptions, linkIdentity, startBot, type BotHarness } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";

const ALIASES: AliasInput[] = [
  {
    name: "deploy_prod",
    pack: "ops",
    action_ref: "ops.deploy",
    description: "Deploy an app to production",
    formats: ["deploy {{app}} to production"],
    extra: { security: { twofactor: true } },
  },
  { name: "service_status", pack: "ops", action_ref: "ops.status", description: "Service status", formats: ["status of {{service}}"] },
];
const ACTIONS = [
  { ref: "duo.auth_push", runner: "python-script" },
  { ref: "ops.deploy", runner: "python-script" },
  { ref: "ops.status", runner: "python-script" },
];
const inRoom = (room: string) => (m: { target: { kind: string; id: string } }) => m.target.kind === "room" && m.target.id === room;
const ackIn = (room: string) => (m: { target: { kind: string; id: string }; text: string }) =>
  inRoom(room)(m) && m.text.startsWith("I'll take it from here!");

/** `auth` is placed inside `[stackstorm]`, so a `[stackstorm]` key can ride in front of the api_auth table. */
const twofactorAuth = `twofactor_action = "duo.auth_push"\n[stackstorm.api_auth]\napikey = "${API_KEY}"`;

async function started(auth?: string): Promise<BotHarness> {
  const h = await startBot({ emulator: { aliases: ALIASES, actions: ACTIONS }, auth });
  await waitFor("stream open", () => h.app.streamState().state === "open");
  return h;
}

const aliasExecutions = (h: BotHarness) => h.emulator.requests.filter((r) => r.method === "POST" && r.path === "/api/v1/aliasexecution");
const twofactorRuns = (h: BotHarness) => h.emulator.executions.filter((e) => e.action.ref === "duo.auth_push");

describe("with stackstorm.twofactor_action", () => {
  let h: BotHarness;
  beforeAll(async () => {
    h = await started(twofactorAuth);
  });
  afterAll(async () => {
    assertNoViolations(h.emulator);
    await h.stop();
  });

  test("a flagged alias asks for confirmation, runs nothing, and starts the 2FA action with hubot's parameters", async () => {
    await h.say("!st2 deploy web to production", { room: "ops", user: "alice" });
    expect((await h.next(inRoom("ops"), "2FA message")).text).toBe(TWOFACTOR_MESSAGE);
    expect(aliasExecutions(h)).toHaveLength(0);
    const [twofactor] = twofactorRuns(h);
    expect(twofactor).toBeDefined();
    expect(twofactor!.parameters).toEqual({
      uuid: expect.stringMatching(/^[0-9a-f-]{36}$/),
      user: "alice",
      channel: "#ops",
      hint: "Deploy an app to production",
    });
    // As the identity the command would run as (the bot's API key here).
    expect(twofactor!.user).toBe("st2admin");
    // Exactly the keys StackStorm's LiveActionCreateAPI accepts.
    const request = h.emulator.requests.find((r) => r.method === "POST" && r.path === "/api/v1/executions")!;
    expect(Object.keys(request.body as object).sort()).toEqual(["action", "parameters"]);
    expect(request.status).toBe(201);
  });

  test("the confirmation runs the alias as the normal path would, and acks it where it was asked", async () => {
    const uuid = twofactorRuns(h)[0]!.parameters.uuid as string;
    h.emulator.announce("2fa", { uuid });
    await waitFor("alias execution", () => aliasExecutions(h).length === 1);
    const exec = h.emulator.executions.find((e) => e.action.ref === "ops.deploy")!;
    expect(exec.parameters).toEqual({ app: "web" });
    expect(exec).toMatchObject({ apiUser: "alice", sourceChannel: "#ops", notifyRoute: "errbot" });
    expect(exec.sourceContext).toEqual({ backend: "memory", user_id: "alice", user: "alice", room: "ops", room_name: "#ops" });
    const ack = await h.next(ackIn("ops"), "ack");
    expect(ack.text).toContain(exec.id);
    await h.next((m) => inRoom("ops")(m) && m.text.includes("completed"), "result");
  });

  test("the same confirmation twice, or an unknown uuid, runs nothing", async () => {
    const uuid = twofactorRuns(h)[0]!.parameters.uuid as string;
    h.emulator.announce("2fa", { uuid });
    h.emulator.announce("2fa", { uuid: "00000000-0000-4000-8000-000000000000" });
    h.emulator.announce("2fa", { nothing: "here" });
    // A marker after them on the same stream: once it reached chat, they were handled.
    h.emulator.announce("errbot", { message: "marker", channel: "#ops" });
    await h.next((m) => inRoom("ops")(m) && m.text === "marker", "marker");
    await Bun.sleep(50);
    expect(aliasExecutions(h)).toHaveLength(1);
  });

  test("an alias without the flag runs at once", async () => {
    const before = twofactorRuns(h).length;
    await h.say("!st2 status of redis", { user: "bob" });
    const ack = await h.next((m) => m.target.kind === "user" && m.target.id === "bob", "ack");
    expect(ack.text).toStartWith("I'll take it from here!");
    expect(twofactorRuns(h)).toHaveLength(before);
  });

  test("when the 2FA action cannot be started, the user is told and nothing is held", async () => {
    h.emulator.faults.failNext(1, { status: 400, faultstring: 'Action "duo.auth_push" cannot be found.', pathPrefix: "/api/v1/executions" });
    await h.say("!st2 deploy api to production", { room: "ops", user: "carol" });
    expect((await h.next(inRoom("ops"), "refusal")).text).toBe('StackStorm rejected the command: Action "duo.auth_push" cannot be found.');
    // Its uuid was released: a confirmation arriving anyway runs nothing.
    const refused = h.emulator.requests.filter((r) => r.method === "POST" && r.path === "/api/v1/executions").at(-1)!;
    expect(refused.status).toBe(400);
    const before = aliasExecutions(h).length;
    h.emulator.announce("2fa", { uuid: (refused.body as { parameters: { uuid: string } }).parameters.uuid });
    h.emulator.announce("errbot", { message: "marker 2", channel: "#ops" });
    await h.next((m) => inRoom("ops")(m) && m.text === "marker 2", "marker");
    await Bun.sleep(50);
    expect(aliasExecutions(h)).toHaveLength(before);
  });
});

describe("without stackstorm.twofactor_action", () => {
  let h: BotHarness;
  beforeAll(async () => {
    h = await started();
  });
  afterAll(async () => {
    assertNoViolations(h.emulator);
    await h.stop();
  });

  test("the alias flag is ignored, as hubot does without HUBOT_2FA", async () => {
    await h.say("!st2 deploy web to production", { room: "ops" });
    const ack = await h.next(inRoom("ops"), "ack");
    expect(ack.text).toStartWith("I'll take it from here!");
    expect(twofactorRuns(h)).toHaveLength(0);
    expect(aliasExecutions(h)).toHaveLength(1);
  });

  test("the stream does not ask for the 2fa route", () => {
    const stream = h.emulator.requests.find((r) => r.path === "/stream/v1/stream")!;
    expect(stream.query.events).not.toContain("st2.announcement__2fa");
  });
});

describe("under client-side auth", () => {
  const KEY_ENV = "ST2BOT_TEST_TWOFACTOR_KEY";
  let h: BotHarness;
  beforeAll(async () => {
    h = await startBot({
      ...clientsideOptions(KEY_ENV),
      emulator: { aliases: ALIASES, actions: ACTIONS, users: { st2admin: "Ch@ngeMe", "alice.st2": "alice-pw" } },
      auth: twofactorAuth,
    });
    await waitFor("stream open", () => h.app.streamState().state === "open");
  });
  afterAll(async () => {
    assertNoViolations(h.emulator);
    await h.stop();
    delete process.env[KEY_ENV];
  });

  test("the 2FA action and the confirmed alias both run as the user's own StackStorm identity", async () => {
    const dm = (m: { target: { kind: string; id: string } }) => m.target.kind === "user" && m.target.id === "alice";
    await linkIdentity(h, { chatUser: "alice", st2User: "alice.st2", password: "alice-pw" });
    await h.say("!st2 deploy web to production", { user: "alice" });
    expect((await h.next(dm, "2FA message")).text).toBe(TWOFACTOR_MESSAGE);
    const twofactor = twofactorRuns(h)[0]!;
    expect(twofactor.user).toBe("alice.st2");
    expect(twofactor.parameters).toMatchObject({ user: "alice", channel: "@alice" });
    h.emulator.announce("2fa", { uuid: twofactor.parameters.uuid as string });
    await h.next((m) => dm(m) && m.text.startsWith("I'll take it from here!"), "ack");
    expect(h.emulator.executions.find((e) => e.action.ref === "ops.deploy")).toMatchObject({ user: "alice.st2", apiUser: "alice" });
  });
});
