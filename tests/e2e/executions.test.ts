/**
 * Executions from chat, end to end against the emulator (every request checked against
 * StackStorm's OpenAPI spec): `!st2 executions`, `!st2 execution <id>`, `!st2 cancel <id>`,
 * `!st2 rerun <id> [key=value]`, with ids typed as the endings listings show; the ACL's
 * `St2:<subcommand>` keys and `alias:` rules; the bot's identity limited to alias executions;
 * each call made with the caller's own credential under client-side auth.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations } from "../support/emulator.ts";
import { API_KEY, clientsideOptions, linkIdentity, startBot, type BotHarness } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";
import type { SentMessage } from "../../src/chat/memory.ts";
import type { ActionSpec, AliasInput } from "../../src/emulator/index.ts";
import { DENIED } from "../../src/bot/acl.ts";

const inRoom = (room: string) => (m: SentMessage) => m.target.kind === "room" && m.target.id === room;
/** A reply of the bot in `room`: neither an ack nor a result StackStorm announced (`status : …`). */
const notAck = (room: string) => (m: SentMessage) => inRoom(room)(m) && !m.text.startsWith("I'll take it from here") && !/^status : /m.test(m.text);

const actions: ActionSpec[] = [
  // Runs long enough to be cancelled; `ops.ping` finishes at once.
  { ref: "ops.deploy", runner: "orquesta", durationMs: 60_000 },
  { ref: "ops.ping", runner: "local-shell-cmd" },
  { ref: "ops.secret", runner: "local-shell-cmd", durationMs: 60_000 },
];
const aliases: AliasInput[] = [
  { name: "deploy", pack: "ops", action_ref: "ops.deploy", formats: ["deploy {{app}} to {{env=staging}}"] },
  { name: "ping", pack: "ops", action_ref: "ops.ping", formats: ["ping {{host}}"] },
  { name: "secret", pack: "ops", action_ref: "ops.secret", formats: ["secret {{thing}}"] },
  // Its format starts with a subcommand's name: `!st2 cancel …` is the subcommand, `st2bot: cancel …` the alias.
  { name: "cancel_job", pack: "ops", action_ref: "ops.ping", formats: ["cancel job {{host}}"] },
  { name: "nuke", pack: "ops", action_ref: "ops.ping", formats: ["nuke {{host}}"], extra: { security: { twofactor: true } } },
];
const users = { st2admin: "Ch@ngeMe", alice: "alice-pw", bob: "bob-pw" };
const last = (h: BotHarness, ref: string) => waitFor(`an execution of ${ref}`, () => h.emulator.executions.findLast((e) => e.action.ref === ref));
const requests = (h: BotHarness, method: string, suffix = "") =>
  h.emulator.requests.filter((r) => r.method === method && r.path.startsWith("/api/v1/executions/") && r.path.endsWith(suffix));

describe("executions under standalone auth (the bot's API key)", () => {
  let h: BotHarness;
  beforeAll(async () => {
    h = await startBot({
      emulator: { actions, aliases, users },
      auth: `twofactor_action = "duo.auth_push"\n[stackstorm.api_auth]\napikey = "${API_KEY}"`,
      toml: `[access_controls."St2:cancel"]\ndenyusers = ["@mallory"]\n[access_controls."alias:ops.secret"]\nallowusers = ["@admin"]`,
    });
    await waitFor("aliases", () => h.app.aliases.loaded);
  });
  afterAll(async () => {
    assertNoViolations(h.emulator);
    await h.stop();
  });

  test("`executions` lists recent runs under short unique endings, with who ran them", async () => {
    await h.say("!st2 deploy shop to prod", { room: "ops", user: "alice" });
    const ex = await last(h, "ops.deploy");
    await h.next(inRoom("ops"), "ack");
    await h.say("!st2 executions", { room: "ops", user: "alice" });
    const m = await h.next(notAck("ops"), "listing");
    expect(m.text).toStartWith("1 most recent StackStorm execution:");
    expect(m.text).toContain(`  ${ex.id.slice(-6)}  requested  ops.deploy  by alice (as StackStorm user st2admin)  `);
    const list = h.emulator.requests.findLast((r) => r.path === "/api/v1/executions" && r.query.parent)!;
    expect(list.query).toMatchObject({ parent: "null", exclude_attributes: "result" });
  });

  test("`execution <ending>` shows status, who, parameters and the link", async () => {
    const ex = await last(h, "ops.deploy");
    await h.say(`!st2 execution ${ex.id.slice(-6)}`, { room: "ops", user: "alice" });
    const m = await h.next(notAck("ops"), "detail");
    expect(m.text).toStartWith(`Execution ${ex.id}: requested\n  action: ops.deploy\n  by: alice (as StackStorm user st2admin)\n`);
    expect(m.text).toContain('  parameters: app="shop" env="prod"');
    expect(m.text).toContain(`/#/history/${ex.id}/general`);
  });

  test("ids: too short, not hex, unknown and ambiguous fragments are refused with why", async () => {
    const ex = await last(h, "ops.deploy");
    await h.say("!st2 execution abc", { room: "ops" });
    expect((await h.next(notAck("ops"))).text).toContain("too short");
    await h.say("!st2 execution zzzzzzz", { room: "ops" });
    expect((await h.next(notAck("ops"))).text).toContain("is not an execution id");
    await h.say("!st2 execution ffffffffff", { room: "ops" });
    expect((await h.next(notAck("ops"))).text).toContain("type the whole id");
    // Ids made in one second share their first 18 digits: a prefix of them names several.
    await h.say("!st2 ping web1", { room: "ops" });
    await h.next(inRoom("ops"), "ack");
    const ping = await last(h, "ops.ping");
    const shared = [...ex.id].findIndex((c, i) => ping.id[i] !== c);
    if (shared >= 6) {
      await h.say(`!st2 execution ${ex.id.slice(0, 6)}`, { room: "ops" });
      expect((await h.next(notAck("ops"))).text).toContain("names 2 executions");
    }
  });

  test("`cancel <ending>` cancels a running execution; a finished one gets StackStorm's refusal", async () => {
    const ex = await last(h, "ops.deploy");
    await h.say(`!st2 cancel ${ex.id.slice(-6)}`, { room: "ops", user: "alice" });
    expect((await h.next(notAck("ops"), "cancel reply")).text).toBe(`Cancelled ops.deploy (${ex.id}): status canceled.`);
    expect(ex.status).toBe("canceled");
    const ping = await waitFor("ping done", () => h.emulator.executions.findLast((e) => e.action.ref === "ops.ping" && e.status === "succeeded"));
    await h.say(`!st2 cancel ${ping.id}`, { room: "ops", user: "alice" });
    expect((await h.next(notAck("ops"), "refusal")).text).toBe(
      `StackStorm did not cancel ${ping.id} (ops.ping): Action cannot be canceled. State = succeeded.`,
    );
  });

  test("`rerun <ending> key=value` runs the action again with the old parameters and the new ones", async () => {
    const ex = await last(h, "ops.deploy");
    const before = h.emulator.executions.length;
    await h.say(`!st2 rerun ${ex.id.slice(-6)} env="pre prod"`, { room: "ops", user: "alice" });
    const m = await h.next(notAck("ops"), "rerun reply");
    const again = h.emulator.executions[before]!;
    expect(again.parameters).toEqual({ app: "shop", env: "pre prod" });
    expect(again.context).toMatchObject({ "re-run": { ref: ex.id } });
    expect(m.text).toStartWith(`Running ops.deploy again with env="pre prod": execution ${again.id} (re-run of ${ex.id}).`);
    expect(requests(h, "POST", "/re_run").at(-1)!.body).toEqual({ parameters: { env: "pre prod" } });
  });

  test("the ACL: `St2:cancel` denies a user; an alias rule guards cancelling and re-running that alias's runs", async () => {
    const deletes = requests(h, "DELETE").length;
    const ex = await last(h, "ops.deploy");
    await h.say(`!st2 cancel ${ex.id}`, { room: "ops", user: "mallory" });
    expect((await h.next(notAck("ops"), "denial")).text).toBe(DENIED.user);
    await h.say("!st2 secret sauce", { room: "ops", user: "admin" });
    await h.next(inRoom("ops"), "ack");
    const secret = await last(h, "ops.secret");
    await h.say(`!st2 rerun ${secret.id}`, { room: "ops", user: "bob" });
    expect((await h.next(notAck("ops"), "alias denial")).text).toBe(DENIED.user);
    await h.say(`!st2 cancel ${secret.id}`, { room: "ops", user: "bob" });
    expect((await h.next(notAck("ops"), "alias denial")).text).toBe(DENIED.user);
    expect(requests(h, "DELETE").length).toBe(deletes);
    expect(requests(h, "POST", "/re_run").filter((r) => r.path.includes(secret.id))).toHaveLength(0);
    expect(secret.status).toBe("requested");
  });

  test("the bot's identity never shows, lists, cancels or re-runs an execution no alias started", async () => {
    const res = await fetch(`${h.emulator.apiUrl}/executions`, {
      method: "POST",
      headers: { "St2-Api-Key": API_KEY, "content-type": "application/json" },
      body: JSON.stringify({ action: "ops.secret", parameters: { thing: "x" } }),
    });
    const { id } = (await res.json()) as { id: string };
    await h.say(`!st2 rerun ${id} thing=y`, { room: "ops", user: "alice" });
    expect((await h.next(notAck("ops"), "refusal")).text).toContain("only executions started through one of my action aliases");
    expect(requests(h, "POST", "/re_run").filter((r) => r.path.includes(id))).toHaveLength(0);
    await h.say(`!st2 execution ${id}`, { room: "ops", user: "alice" });
    expect((await h.next(notAck("ops"), "refusal")).text).toStartWith("I show only executions started through one of my action aliases");
    await h.say("!st2 executions --action ops.secret", { room: "ops", user: "alice" });
    const listed = (await h.next(notAck("ops"), "listing")).text;
    expect(listed).toStartWith("1 most recent StackStorm execution (of ops.secret):");
    expect(listed).not.toContain(id.slice(-6));
  });

  test("an alias that needs two-factor confirmation is not re-run (that would skip the confirmation)", async () => {
    const res = await fetch(`${h.emulator.apiUrl}/aliasexecution`, {
      method: "POST",
      headers: { "St2-Api-Key": API_KEY, "content-type": "application/json" },
      body: JSON.stringify({ name: "nuke", format: "nuke {{host}}", command: "nuke web1", source_channel: "ops", user: "admin" }),
    });
    const { execution } = (await res.json()) as { execution: { id: string } };
    await h.say(`!st2 rerun ${execution.id}`, { room: "ops", user: "admin" });
    expect((await h.next(notAck("ops"), "refusal")).text).toStartWith("ops.nuke needs two-factor confirmation, so I do not re-run it");
    expect(requests(h, "POST", "/re_run").filter((r) => r.path.includes(execution.id))).toHaveLength(0);
  });

  test("reading a run's result takes the ACL's leave to run its alias", async () => {
    const secret = h.emulator.executions.findLast((e) => e.alias?.ref === "ops.secret")!;
    await h.say(`!st2 execution ${secret.id}`, { room: "ops", user: "admin" });
    expect((await h.next(notAck("ops"), "detail")).text).toStartWith(`Execution ${secret.id}: requested`);
    await h.say(`!st2 execution ${secret.id}`, { room: "ops", user: "bob" });
    expect((await h.next(notAck("ops"), "denial")).text).toBe(DENIED.user);
  });

  test("`executions --mine --status s` under the bot's identity: the chat user the alias runs name", async () => {
    await h.say("!st2 executions --mine --status canceled", { room: "ops", user: "alice" });
    const mine = (await h.next(notAck("ops"), "alice's")).text;
    expect(mine).toStartWith("1 most recent StackStorm execution (yours, canceled):");
    await h.say("!st2 executions --mine", { room: "ops", user: "nobody" });
    expect((await h.next(notAck("ops"), "none")).text).toBe("No recent StackStorm executions (yours).");
    await h.say("!st2 executions --status bogus", { room: "ops" });
    expect((await h.next(notAck("ops"))).text).toContain('"bogus" is not an execution status');
  });

  test("precedence: `!st2 cancel …` is the subcommand; an alias starting with `cancel` is reached by name", async () => {
    await h.say("!st2 cancel job", { room: "ops" });
    expect((await h.next(notAck("ops"))).text).toContain('"job" is not an execution id');
    await h.say("!st2 cancel job web1", { room: "ops" });
    expect((await h.next(notAck("ops"))).text).toBe("Usage: !st2 cancel <id>");
    const before = h.emulator.executions.length;
    await h.say("st2bot: cancel job web1", { room: "ops" });
    await waitFor("the alias ran", () => h.emulator.executions.length > before);
    expect(h.emulator.executions.at(-1)!.alias?.name).toBe("cancel_job");
  });

  test("`!help` lists the subcommands as they are typed", async () => {
    await h.say("!help", { room: "ops" });
    const m = await h.next((x) => inRoom("ops")(x) && x.text.startsWith("### All commands"));
    expect(m.text).toContain("**!st2 cancel <id>** - Cancel a StackStorm execution");
    expect(m.text).toContain("**!st2 rerun <id> [key=value ...]**");
  });
});

describe("executions under client-side auth (each call with the caller's own token)", () => {
  let h: BotHarness;
  const KEY_ENV = "ST2BOT_TEST_EXEC_KEY";
  beforeAll(async () => {
    h = await startBot({
      emulator: { actions, aliases, users, canExecute: (user, ref) => !(user === "bob" && ref === "ops.deploy") },
      ...clientsideOptions(KEY_ENV),
    });
    await waitFor("aliases", () => h.app.aliases.loaded);
    await linkIdentity(h, { chatUser: "alice", st2User: "alice", password: "alice-pw" });
    await linkIdentity(h, { chatUser: "bob", st2User: "bob", password: "bob-pw" });
  });
  afterAll(async () => {
    delete process.env[KEY_ENV];
    assertNoViolations(h.emulator);
    await h.stop();
  });

  test("`--mine` asks StackStorm for the caller's own runs; cancel goes out as the caller, and RBAC's refusal is said", async () => {
    await h.say("!st2 deploy shop to prod", { room: "ops", user: "alice" });
    await h.next(inRoom("ops"), "ack");
    const ex = await last(h, "ops.deploy");
    expect(ex.user).toBe("alice");
    await h.say("!st2 executions --mine", { room: "ops", user: "alice" });
    expect((await h.next(notAck("ops"), "listing")).text).toContain(`${ex.id.slice(-6)}  requested  ops.deploy  by alice`);
    expect(h.emulator.requests.findLast((r) => r.path === "/api/v1/executions" && r.query.parent)!.query.user).toBe("alice");

    await h.say(`!st2 cancel ${ex.id.slice(-6)}`, { room: "ops", user: "bob" });
    expect((await h.next(notAck("ops"), "403")).text).toBe(
      `StackStorm refused: you are not allowed to do that: User "bob" doesn't have required permission "execution_stop" on resource "execution:${ex.id}"`,
    );
    expect(requests(h, "DELETE").at(-1)!.credential?.user).toBe("bob");
    await h.say(`!st2 cancel ${ex.id.slice(-6)}`, { room: "ops", user: "alice" });
    expect((await h.next(notAck("ops"), "cancelled")).text).toBe(`Cancelled ops.deploy (${ex.id}): status canceled.`);
    expect(requests(h, "DELETE").at(-1)!.credential?.user).toBe("alice");
  }, 20_000);

  test("a user who has not linked an identity is told to log in", async () => {
    await h.say("!st2 executions", { room: "ops", user: "carol" });
    expect((await h.next(notAck("ops"))).text).toContain("You have not linked your StackStorm identity yet");
  });
});

describe("executions with an empty plugin_prefix (aliases typed bare)", () => {
  let h: BotHarness;
  beforeAll(async () => {
    h = await startBot({ emulator: { actions, aliases, users }, auth: `plugin_prefix = ""\n[stackstorm.api_auth]\napikey = "${API_KEY}"` });
    await waitFor("aliases", () => h.app.aliases.loaded);
  });
  afterAll(async () => {
    assertNoViolations(h.emulator);
    await h.stop();
  });

  test("`!st2 <subcommand>` still manages executions; other `!st2 …` text gets the usage; aliases run bare", async () => {
    await h.say("!ping web1", { room: "ops" });
    await h.next(inRoom("ops"), "ack");
    const ping = await last(h, "ops.ping");
    await h.say(`!st2 execution ${ping.id.slice(-6)}`, { room: "ops" });
    expect((await h.next(notAck("ops"), "detail")).text).toStartWith(`Execution ${ping.id}: `);
    await h.say("!st2 frobnicate", { room: "ops" });
    expect((await h.next(notAck("ops"), "usage")).text).toStartWith("Usage:\n  !st2 executions [--mine]");
  });
});
