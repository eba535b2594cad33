/**
 * `stackstorm.packs` end to end: two bots share one StackStorm and one room, each serving its
 * own team's packs. Each runs and lists only its packs' aliases, stays silent on a command the
 * other serves (instead of "not found"), and refuses to re-run the other's executions under
 * its own identity. Every request is checked against StackStorm's OpenAPI spec.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";
import { API_KEY, startBot, type BotHarness } from "../support/bot.ts";
import { waitFor } from "../support/wait.ts";
import type { SentMessage } from "../../src/chat/memory.ts";
import type { AliasInput } from "../../src/emulator/index.ts";

const aliases: AliasInput[] = [
  { name: "restart", pack: "ops", action_ref: "core.local", formats: ["restart {{service}}"], description: "Restart a service" },
  { name: "uptime", pack: "ops", action_ref: "core.local", formats: ["uptime on {{host}}"] },
  { name: "deploy", pack: "web", action_ref: "core.local", formats: ["deploy {{app}}"], description: "Deploy an app" },
  { name: "rollback", pack: "web", action_ref: "core.local", formats: ["rollback {{app}}"], enabled: false },
  { name: "dns", pack: "net", action_ref: "core.local", formats: ["dns {{name}}"] },
];
// Each bot its own notification route, as two bots on one StackStorm must have: otherwise both
// would post every result (each reads the whole stream).
const packs = (list: string[], route: string) => `packs = ${JSON.stringify(list)}\nroute_key = "${route}"\n[stackstorm.api_auth]\napikey = "${API_KEY}"`;
const room = (m: SentMessage) => m.target.kind === "room" && m.target.id === "ops";

describe("two bots, one StackStorm, one room: stackstorm.packs", () => {
  let emulator: TestEmulator;
  let ops: BotHarness;
  let web: BotHarness;
  /** Everyone in #ops types `text`: both bots read it. */
  const say = async (text: string, user = "alice") => {
    await Promise.all([ops.say(text, { room: "ops", user }), web.say(text, { room: "ops", user })]);
  };
  /** Everyone in #ops types `text`; what each bot said there in answer (up to a marker reply). */
  const answers = async (text: string): Promise<[string[], string[]]> => {
    const from = [ops.backend.sent.length, web.backend.sent.length];
    await say(text);
    const collect = async (h: BotHarness, start: number) => {
      await h.say("!st2help --filter zzz-none", { room: "ops" });
      await h.next((m) => room(m) && m.text.startsWith("No StackStorm commands found"), "the marker");
      return h.backend.sent.slice(start).filter(room).map((m) => m.text).filter((t) => !t.startsWith("No StackStorm commands found"));
    };
    return [await collect(ops, from[0]!), await collect(web, from[1]!)];
  };

  beforeAll(async () => {
    emulator = await startTestEmulator({ aliases, apiKeys: [API_KEY], completionDelayMs: 5 });
    ops = await startBot({ useEmulator: emulator, auth: packs(["ops", "net"], "errbot-ops") });
    web = await startBot({ useEmulator: emulator, auth: packs(["web"], "errbot-web") });
    await waitFor("aliases", () => ops.app.aliases.loaded && web.app.aliases.loaded);
  });
  afterAll(async () => {
    await ops.stop();
    await web.stop();
    assertNoViolations(emulator);
    await emulator.stop();
  });

  test("each bot loads only its packs' aliases", () => {
    expect(ops.app.aliases.index.aliases.map((a) => a.ref).sort()).toEqual(["net.dns", "ops.restart", "ops.uptime"]);
    expect(web.app.aliases.index.aliases.map((a) => a.ref).sort()).toEqual(["web.deploy", "web.rollback"]);
  });

  test("a command runs once, by the bot serving its pack; the other says nothing", async () => {
    const before = emulator.executions.length;
    const [byOps, byWeb] = await answers("!st2 restart nginx");
    expect(byOps).toHaveLength(1);
    expect(byOps[0]).toStartWith("I'll take it from here!");
    expect(byWeb).toEqual([]);
    expect(emulator.executions.length).toBe(before + 1);
    expect(emulator.executions.at(-1)!.alias?.ref).toBe("ops.restart");
  });

  test("the other way round, and a disabled alias of another team's pack is not reported as disabled", async () => {
    const [byOps, byWeb] = await answers("!st2 deploy shop");
    expect(byOps).toEqual([]);
    expect(byWeb[0]).toStartWith("I'll take it from here!");
    const [opsOff, webOff] = await answers("!st2 rollback shop");
    expect(opsOff).toEqual([]);
    expect(webOff).toEqual(['The action alias "web.rollback" is disabled in StackStorm.']);
  });

  test("help lists only the bot's own packs", async () => {
    await ops.say("!st2help", { room: "ops" });
    const help = (await ops.next((m) => room(m) && m.text.startsWith("StackStorm commands"))).text;
    expect(help).toContain("ops:");
    expect(help).toContain("net:");
    expect(help).not.toContain("deploy");
    await web.say("!st2help --pack ops", { room: "ops" });
    expect((await web.next((m) => room(m) && m.text.startsWith("No StackStorm"))).text).toBe('No StackStorm commands found for pack "ops".');
  });

  test("a command no bot serves is answered by each (they cannot know of one another)", async () => {
    const [byOps, byWeb] = await answers("!st2 frobnicate");
    expect(byOps[0]).toStartWith('Command "frobnicate" not found.');
    expect(byWeb[0]).toStartWith('Command "frobnicate" not found.');
  });

  test("an alias added later (stream event) joins only the bot serving its pack", async () => {
    emulator.addAlias({ name: "purge", pack: "web", action_ref: "core.local", formats: ["purge {{cache}}"] });
    await waitFor("web learns it", () => web.app.aliases.index.aliases.some((a) => a.ref === "web.purge"));
    await waitFor("ops hears it", () => ops.app.aliases.aliases.some((a) => a.ref === "web.purge"));
    expect(ops.app.aliases.index.aliases.some((a) => a.ref === "web.purge")).toBe(false);
    const [byOps, byWeb] = await answers("!st2 purge cdn");
    expect(byOps).toEqual([]);
    expect(byWeb[0]).toStartWith("I'll take it from here!");
  });

  test("under its own identity a bot does not re-run another team's alias executions", async () => {
    const deploy = emulator.executions.findLast((e) => e.alias?.ref === "web.deploy")!;
    await ops.say(`!st2 rerun ${deploy.id}`, { room: "ops" });
    expect((await ops.next((m) => room(m) && m.text.includes("only executions started through one of my action aliases"))).text).toContain(deploy.id);
  });
});
