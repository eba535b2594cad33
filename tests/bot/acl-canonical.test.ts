/**
 * Text-keyed access rules cannot be walked around: `[access_controls."st2 apu start*"]` is
 * checked against one canonical text however the bot was addressed and whatever whitespace
 * separates the words (Python's set, which the alias matcher uses). Every variant is sent by
 * root first, to show it really reaches the alias, then by alice, who must be refused.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { checkAccess, DENIED } from "../../src/bot/acl.ts";
import { canonicalTyped, parseCommand } from "../../src/bot/router.ts";
import type { Command } from "../../src/bot/types.ts";
import { sampleActions } from "../../src/emulator/samples.ts";
import { API_KEY, type BotHarness, startBot } from "../support/bot.ts";

/** Whitespace classes: ASCII, Python-only (\x1c, \x85), Unicode spaces JS and Python share. */
const SPACES: [string, string][] = [
  ["space", " "],
  ["two spaces", "  "],
  ["tab", "\t"],
  ["newline", "\n"],
  ["\\x1c", "\x1c"],
  ["\\x85 (NEL)", "\u0085"],
  ["\\xa0 (NBSP)", "\u00a0"],
  ["\\u2028", "\u2028"],
  ["\\u2009", "\u2009"],
  ["\\u3000", "\u3000"],
];

// `\s+` between the words: the format accepts every whitespace class, as real formats may.
const APU = {
  name: "apu_start",
  pack: "apu",
  action_ref: "deploy.app",
  description: "Start an APU",
  formats: ["apu\\s+start {{app}}"],
  ack: { format: "APU-ACK {{ execution.parameters.app }}" },
};

/** The alias's acknowledgement for this run (its parameter keeps the spacing typed before it). */
const acked = (text: string, tag: string) => text.startsWith("APU-ACK") && text.includes(`${tag} (details`);

type Send = (h: BotHarness, body: string, user: string) => Promise<void>;

/** Every way to address the bot, with the text after it. */
function forms(pluginPrefix: string): [string, Send][] {
  const run = pluginPrefix ? `${pluginPrefix} ` : "";
  const say = (text: (b: string) => string): Send => (h, body, user) => h.say(text(body), { user, room: "ops" });
  return [
    ["prefix", say((b) => `!${run}${b}`)],
    ["name and colon", say((b) => `st2bot: ${b}`)],
    ["@name", say((b) => `@st2bot ${b}`)],
    ["@name then prefix", say((b) => `@st2bot !${run}${b}`)],
    ["mention", (h, body, user) => h.backend.receive({ text: body, user, roomName: "ops", mentioned: true })],
  ];
}

async function table(h: BotHarness, pluginPrefix: string): Promise<void> {
  let n = 0;
  const executions = () => h.emulator.requests.filter((r) => r.method === "POST" && r.path === "/api/v1/aliasexecution").length;
  for (const [form, send] of forms(pluginPrefix)) {
    for (const [space, ws] of SPACES) {
      for (const shape of [(t: string) => `${ws}apu start ${t}`, (t: string) => `apu${ws}start ${t}`, (t: string) => `${ws}apu${ws}${ws}start ${t}${ws}`]) {
        const tag = `web${n++}`;
        const body = shape(tag);
        const what = `${form}, ${space}: ${JSON.stringify(body)}`;
        const before = executions();
        await send(h, body, "root");
        await h.next((m) => acked(m.text, tag), `root's run of ${what}`);
        expect(executions()).toBe(before + 1);
        await send(h, body, "alice");
        const reply = await h.next((m) => m.text === DENIED.user || acked(m.text, tag), `alice's refusal of ${what}`);
        expect({ what, reply: reply.text }).toEqual({ what, reply: DENIED.user });
        expect(executions()).toBe(before + 1);
      }
    }
  }
}

describe("a typed-text rule holds for every addressing form and whitespace class", () => {
  let h: BotHarness;
  beforeAll(async () => {
    h = await startBot({
      emulator: { aliases: [APU], actions: sampleActions },
      toml: `[access_controls."st2 apu start*"]\nallowusers = ["@root"]`,
    });
  });
  afterAll(() => h.stop());

  test("plugin_prefix st2", () => table(h, "st2"), 60_000);
});

describe("with an empty plugin_prefix the canonical text is the alias command alone", () => {
  let h: BotHarness;
  beforeAll(async () => {
    h = await startBot({
      emulator: { aliases: [APU], actions: sampleActions },
      auth: `plugin_prefix = ""\n[stackstorm.api_auth]\napikey = "${API_KEY}"`,
      toml: `[access_controls."apu start*"]\nallowusers = ["@root"]`,
    });
  });
  afterAll(() => h.stop());

  test("plugin_prefix empty", () => table(h, ""), 60_000);
});

describe("the canonical text", () => {
  const st2: Command = { plugin: "St2", name: "st2", help: "", run: async () => {} };
  const commands = new Map([["st2", st2]]);

  test("Python whitespace (\\x1c-\\x1f, \\x85) separates words; \\ufeff, which JavaScript calls space, does not", () => {
    expect(parseCommand("st2\u0085apu start", commands)?.parsed).toEqual({ name: "st2", args: "apu start", typed: "st2 apu start" });
    expect(parseCommand("st2\x1c\x1dapu\x1fstart", commands)?.parsed.typed).toBe("st2 apu start");
    expect(parseCommand("st2\ufeffapu start", commands)).toBeUndefined();
  });

  test("leading and repeated whitespace go; case stays (rule keys are case-insensitive anyway)", () => {
    expect(canonicalTyped("st2", "\u2028 apu\t\tStart  web ")).toBe("st2 apu Start web");
    expect(canonicalTyped("", " apu start")).toBe("apu start");
  });
});

describe("arguments and keys in the same canonical spacing", () => {
  const req = (args: string) => ({
    plugin: "St2", command: "st2", typed: `st2 ${args}`, args, senderAcl: "@alice", direct: true, isAdmin: false, adminOnly: false,
  });

  test.each(SPACES)("denyargs cannot be dodged with %s", (_name, ws) => {
    const rules = { st2: { denyargs: ["apu start*"] } };
    expect(checkAccess(req(`${ws}apu${ws}start web`), rules, {}, [])).toEqual({ allowed: false, message: DENIED.args });
  });

  test("a key written with a tab or several spaces is the same key", () => {
    const rules = { "st2\tapu   start*": { allowusers: ["@root"] } };
    expect(checkAccess(req("apu start web"), rules, {}, [])).toEqual({ allowed: false, message: DENIED.user });
  });
});
