/**
 * Logs an operator can audit and debug with (issue 11, items 6 and 7): one info line per command
 * (who, where, the text, the alias, the execution or the refusal, the outcome), a debug trace of
 * the flow, the JSON format, and StackStorm's 5xx faultstrings kept out of chat.
 */
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { captureLogs, logger, setLogFormat } from "../../src/lib/log.ts";
import { API_KEY, type BotHarness, clientsideOptions, linkIdentity, startBot, withBot } from "../support/bot.ts";

const emulator = { aliases: sampleAliases, actions: sampleActions, apiKeys: [API_KEY], completionDelayMs: 5, users: { "alice.st2": "alice-pw" } };
let lines: string[] = [];
/** Starting st2bot applies its configured level: capture (at debug) from then on. */
const restores: Array<() => void> = [];
const capture = () => restores.push(captureLogs((line) => lines.push(line), "debug"));
afterAll(() => {
  for (const r of restores.reverse()) r();
});

let h: BotHarness;
beforeAll(async () => {
  h = await startBot({ emulator });
  capture();
});
afterAll(() => h.stop());
afterEach(() => setLogFormat("text"));

const auditLines = () => lines.filter((l) => l.includes(" bot.audit: "));
const fieldsOf = (line: string) => JSON.parse(line.slice(line.indexOf(" {"))) as Record<string, unknown>;

test("a command that ran leaves one info line: who, where, the text, the alias, the execution, ok", async () => {
  lines = [];
  await h.say("!st2 packs list", { room: "ops" });
  const ack = await h.next((m) => m.text.startsWith("Looking up your packs"), "ack");
  const audit = auditLines();
  expect(audit).toHaveLength(1);
  expect(audit[0]).toContain(" INFO ");
  const execution = h.emulator.executions.at(-1)!.id;
  expect(ack.text).toContain(execution);
  expect(fieldsOf(audit[0]!)).toEqual({ user: "@alice", where: "#ops", text: "st2 packs list", alias: "packs.pack_list", execution, outcome: "ok" });
});

test("a refusal, an unknown command and an ACL denial each leave one line saying so", async () => {
  lines = [];
  await h.say("!st2 no such thing here", { room: "ops" });
  await h.say("!nosuchcommand", { room: "ops" });
  await h.say("!st2session_list", { user: "mallory" });
  const audit = auditLines().map(fieldsOf);
  expect(audit).toHaveLength(3);
  expect(audit[0]).toMatchObject({ user: "@alice", text: "st2 no such thing here" });
  expect(String(audit[0]!.outcome)).toStartWith('refused: Command "no such thing here" not found.');
  expect(audit[1]).toMatchObject({ text: "nosuchcommand", outcome: "unknown command" });
  expect(audit[2]).toMatchObject({ user: "@mallory", where: "direct message", text: "st2session_list" });
  expect(String(audit[2]!.outcome)).toStartWith("denied by the ACL");
});

test("a 5xx faultstring goes to the log under an error id; the room gets only the id", async () => {
  lines = [];
  const internals = "Traceback (most recent call last): mongo at 10.0.0.7:27017 refused";
  h.emulator.faults.failNext(1, { status: 500, faultstring: internals, pathPrefix: "/api/v1/aliasexecution" });
  await h.say("!st2 packs list", { room: "ops" });
  const reply = await h.next((m) => m.text.includes("error id"), "the error reply");
  expect(reply.text).not.toContain("Traceback");
  expect(reply.text).not.toContain("10.0.0.7");
  const id = /error id ([0-9a-f]{8})/.exec(reply.text)![1]!;
  const logged = lines.find((l) => l.includes(" ERROR ") && l.includes(id));
  expect(logged).toContain(internals);
  expect(logged).toContain("POST /api/v1/aliasexecution");
  expect(String(fieldsOf(auditLines()[0]!).outcome)).toContain(id);
});

test("ST2BOT_LOG_LEVEL=debug traces the flow: match, StackStorm requests, stream events, outbox", async () => {
  lines = [];
  await h.say("!st2 packs list", { room: "ops" });
  const id = /history\/([0-9a-f]+)\//.exec((await h.next((m) => m.text.startsWith("Looking up your packs"), "ack")).text)![1]!;
  // This command's own result (an earlier test's may still be on its way).
  await h.next((m) => m.text.includes(`execution: ${id}`), "the result");
  await Bun.sleep(50);
  const debug = lines.filter((l) => l.includes(" DEBUG "));
  expect(debug.some((l) => l.includes('match "packs list": match') && l.includes("packs.pack_list"))).toBe(true);
  expect(debug.some((l) => /POST \/api\/v1\/aliasexecution → 201 in [\d.]+ ms/.test(l))).toBe(true);
  expect(debug.some((l) => l.includes("stream event st2.announcement__errbot"))).toBe(true);
  for (const step of ["delivery.outbox: stored", "delivery.outbox: sent and confirmed", "delivery.outbox: deleted delivered messages"]) {
    expect(debug.some((l) => l.includes(step))).toBe(true);
  }
});

test("log_format json: one JSON object per line, the audit fields as keys, secrets still masked", async () => {
  setLogFormat("json");
  lines = [];
  await h.say("!st2 packs list", { room: "ops" });
  await h.next((m) => m.text.startsWith("Looking up your packs"), "ack");
  logger("test").info(`a line carrying ${API_KEY}`, { password: "hunter2-secret", nested: { token: "t0ken-value" } });
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const audit = parsed.find((o) => o.component === "bot.audit")!;
  expect(audit).toMatchObject({ level: "info", user: "@alice", where: "#ops", text: "st2 packs list", alias: "packs.pack_list", outcome: "ok" });
  const mine = parsed.find((o) => o.component === "test")!;
  expect(JSON.stringify(mine)).not.toContain(API_KEY);
  expect(mine).toMatchObject({ password: "***", nested: { token: "***" } });
});

test("under client-side auth the line names the StackStorm user too", async () => {
  const keyEnv = "ST2BOT_AUDIT_TEST_KEY";
  try {
    await withBot({ emulator, ...clientsideOptions(keyEnv) }, async (c) => {
      capture();
      await linkIdentity(c, { chatUser: "alice", st2User: "alice.st2", password: "alice-pw" });
      lines = [];
      await c.say("!st2 packs list", { room: "ops" });
      await c.next((m) => m.text.startsWith("Looking up your packs"), "ack");
      expect(fieldsOf(auditLines()[0]!)).toMatchObject({ user: "@alice", st2_user: "alice.st2", text: "st2 packs list", outcome: "ok" });
    });
  } finally {
    delete process.env[keyEnv];
  }
});
