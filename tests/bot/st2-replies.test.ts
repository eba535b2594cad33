/**
 * Chat replies that help (issue 11, item 7): a started command names the alias and the
 * parameter it lacks, typos get ranked suggestions, `!st2help` groups each pack once, and a
 * command too long to match gets a clear answer instead of freezing the bot.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { AliasIndex, MAX_COMMAND_LENGTH, MAX_MATCHED_LENGTH } from "../../src/st2/aliases/index.ts";
import type { ActionAlias } from "../../src/st2/aliases/types.ts";
import { MAX_ADDRESSED_LENGTH } from "../../src/bot/router.ts";
import { type BotHarness, startBot } from "../support/bot.ts";

const extra = (pack: string, name: string, format: string) => ({ name, pack, action_ref: "hello_st2.greet", description: `${pack} ${name}`, formats: [format] });
// Interleaved packs, as StackStorm lists them: ops, pack0, ops, pack0 …
const ALIASES = [
  ...sampleAliases,
  extra("pack0", "zeta", "zeta {{greeting}}"),
  extra("ops", "alpha", "alpha {{greeting}}"),
  extra("pack0", "beta", "beta {{greeting}}"),
  extra("ops", "gamma", "gamma {{greeting}}"),
];

describe("replies in chat", () => {
  let h: BotHarness;
  let room = 0;
  beforeAll(async () => {
    h = await startBot({ emulator: { aliases: ALIASES, actions: sampleActions } });
  });
  afterAll(() => h.stop());

  /** Says `text` in a fresh room and returns the bot's first answer there. */
  async function ask(text: string): Promise<string> {
    const id = `r${room++}`;
    await h.say(text, { room: id });
    return (await h.next((m) => m.target.kind === "room" && m.target.id === id, `the answer to ${text.slice(0, 40)}`)).text;
  }

  test("a command that stops before a required parameter names the alias and the parameter", async () => {
    expect(await ask("!st2 deploy")).toBe(
      '"deploy" is missing a required parameter:\n  !st2 deploy <app> [to <env>]  (deploy.deploy_app): missing {{app}}\nType !st2help to see what is available.',
    );
    const status = await ask("!st2 status of");
    expect(status).toStartWith('"status of" is missing a required parameter:\n  !st2 status of {{service}}  (ops.service_status): missing {{service}}');
    expect(status).not.toContain("duplicate");
  });

  test("a typo in the leading words is suggested by edit distance", async () => {
    const reply = await ask("!st2 deplyo shop");
    expect(reply).toStartWith('Command "deplyo shop" not found.\nDid you mean:\n  !st2 deploy <app> [to <env>]\n');
  });

  test("!st2help: each pack once, packs and aliases sorted", async () => {
    const reply = await ask("!st2help");
    const headings = reply.split("\n").slice(1).filter((l) => /^\S.*:$/.test(l));
    expect(headings).toEqual(["deploy:", "examples:", "hello_st2:", "jira:", "ops:", "pack0:", "packs:"]);
    const ops = reply.slice(reply.indexOf("\nops:"), reply.indexOf("\npack0:"));
    expect(ops.indexOf("!st2 alpha")).toBeLessThan(ops.indexOf("!st2 gamma"));
    expect(ops.indexOf("!st2 gamma")).toBeLessThan(ops.indexOf("!st2 status of"));
  });

  test("too long to match: a clear reply at each bound", async () => {
    const words = "a ".repeat(MAX_MATCHED_LENGTH);
    expect(await ask(`!st2 ${words}`)).toBe(
      `The command is ${(words.trim().length).toLocaleString("en")} characters long before its trailing key=value pairs; st2bot matches at most 1,024. Shorten it, or pass long values as key=value pairs at the end.`,
    );
    // Long values in trailing pairs are fine up to the whole-command bound.
    expect(await ask(`!st2 say hi x="${"b ".repeat(1500)}"`)).not.toContain("characters long");
    expect(await ask(`!st2 say ${"c".repeat(MAX_COMMAND_LENGTH)}`)).toStartWith(`The command is 4,100 characters long; st2bot matches at most 4,096.`);
    expect(await ask(`!st2 ${"d".repeat(MAX_ADDRESSED_LENGTH)}`)).toBe(`That message is 8,196 characters long; st2bot reads commands of at most 8,192.`);
  });
});

describe("suggestions and incomplete commands in the index", () => {
  const index = new AliasIndex(ALIASES.map((a) => ({ ...a, ref: `${a.pack}.${a.name}`, enabled: true }) as ActionAlias));
  const none = (command: string) => {
    const o = index.match(command);
    if (o.kind !== "none") throw new Error(`${command}: ${o.kind}`);
    return o;
  };

  test("status of: not 'duplicate of' (a shared word is not a close command)", () => {
    expect(none("status of").suggestions).toEqual(["status of {{service}}"]);
    expect(none("stauts of nginx").suggestions[0]).toBe("status of {{service}}");
  });

  test("deplyo shop: deploy (a swap of two letters is one edit)", () => {
    expect(none("deplyo shop").suggestions).toEqual(["deploy <app> [to <env>]"]);
    expect(none("deplyo shop").incomplete).toEqual([]);
  });

  test("nothing close: nothing suggested", () => {
    expect(none("qqqq wwww").suggestions).toEqual([]);
  });

  test("incomplete lists the required parameters only (defaults are not missing)", () => {
    const [deploy] = none("deploy").incomplete;
    expect(deploy?.missing).toEqual(["app"]);
    expect(deploy?.alias.ref).toBe("deploy.deploy_app");
    // Trailing pairs are not words of the command.
    expect(none("deploy app=shop").incomplete.map((i) => i.representation)).toEqual(["deploy {{app}}(?: to {{env=staging}})?"]);
  });
});
