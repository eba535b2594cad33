/** The pieces of the execution commands: argument reading, subcommand routing and ACL keys, alias lookup. */
import { describe, expect, test } from "bun:test";
import { parseListArgs, parsePairs } from "../../src/bot/executions/args.ts";
import { aliasOfExecution } from "../../src/bot/executions/alias.ts";
import { parseCommand } from "../../src/bot/router.ts";
import { checkAccess, type AclRequest } from "../../src/bot/acl.ts";
import type { Command } from "../../src/bot/types.ts";
import type { ActionAlias } from "../../src/st2/aliases/types.ts";
import { CommandError } from "../../src/lib/errors.ts";
import { executionCommands } from "../../src/bot/executions/commands.ts";
import { ST2BOT_SUBCOMMANDS } from "../../src/st2/aliases/reserved.ts";
import { parseConfig } from "../../src/config/load.ts";

describe("rerun's key=value pairs", () => {
  test("plain, double- and single-quoted values; later keys win", () => {
    expect(parsePairs(`a=1 b="two words" c='x=y' d= a=3`)).toEqual({ a: "3", b: "two words", c: "x=y", d: "" });
  });
  test("anything else is refused with the word", () => {
    expect(() => parsePairs("a=1 oops")).toThrow(new CommandError('"oops" is not a key=value pair (names are letters, digits and _).'));
    expect(() => parsePairs("na-me=1")).toThrow(CommandError);
    expect(() => parsePairs('a="open')).toThrow("has no closing");
  });
  test("many pairs, and a value running to the end of the line", () => {
    expect(() => parsePairs(`${"a=1 ".repeat(2000)}x`)).toThrow('"x" is not');
    expect(parsePairs(`k=${"a=".repeat(3000)}`)).toEqual({ k: "a=".repeat(3000) });
  });
});

describe("executions' options", () => {
  test("flags, --flag=value, and refusals", () => {
    expect(parseListArgs("--mine --action ops.deploy --status=FAILED --limit 5")).toEqual({ mine: true, action: "ops.deploy", status: "failed", limit: 5 });
    expect(() => parseListArgs("--limit 500")).toThrow("--limit takes");
    expect(() => parseListArgs("--action deploy")).toThrow("not an action ref");
    expect(() => parseListArgs("--status")).toThrow("needs a value");
    expect(() => parseListArgs("everything")).toThrow("I do not know");
  });
});

describe("subcommands", () => {
  test("the names are the ones `alias lint` warns about", () => {
    const deps = { config: parseConfig("", "<t>", {}), clientFor: async () => { throw new Error(); }, expired: async () => "", aliasOf: () => undefined, mayRunAlias: async () => true };
    expect(executionCommands(deps, "st2").map((c) => c.name)).toEqual([...ST2BOT_SUBCOMMANDS]);
  });

  const run = async () => {};
  const cancel: Command = { plugin: "St2", name: "cancel", help: "", run };
  const st2: Command = { plugin: "St2", name: "st2", help: "", run, subcommands: [cancel] };
  const commands = new Map([["st2", st2]]);

  test("`st2 cancel <id>` dispatches to the subcommand with its own canonical text; other words stay the st2 command's", () => {
    expect(parseCommand("st2  CANCEL\u0085abc123", commands)).toEqual({ parsed: { name: "cancel", args: "abc123", typed: "st2 cancel abc123" }, def: cancel });
    expect(parseCommand("st2 cancellation now", commands)!.def).toBe(st2);
    expect(parseCommand("st2 cancel", commands)).toEqual({ parsed: { name: "cancel", args: "", typed: "st2 cancel" }, def: cancel });
  });

  const req = (over: Partial<AclRequest> = {}): AclRequest => ({
    plugin: "St2", command: "cancel", typed: "st2 cancel abc123", args: "abc123", senderAcl: "@bob", roomAcl: "#ops", direct: false, isAdmin: false, adminOnly: false, ...over,
  });
  test.each([
    ["St2:cancel", false],
    ["cancel", false],
    ["St2:*", false],
    ["st2 cancel*", false],
    ["St2:st2", true],
    ["St2:rerun", true],
  ])("a rule keyed %p applies: %p means bob is allowed", (key, allowed) => {
    expect(checkAccess(req(), { [key]: { denyusers: ["@bob"] } }, {}, []).allowed).toBe(allowed);
  });
});

describe("which alias started an execution", () => {
  const alias = (pack: string, name: string, id: string) => ({ id, pack, name, ref: `${pack}.${name}`, action_ref: "x.y", formats: [], enabled: true }) as unknown as ActionAlias;
  const served = [alias("ops", "deploy", "a1"), alias("ops", "ping", "a2"), alias("web", "ping", "a3")];
  const ex = (ref: unknown) => ({ id: "e", context: { action_alias_ref: ref } });
  test("by StackStorm's {id, name}; an id this bot does not serve is not found by its name", () => {
    expect(aliasOfExecution(ex({ id: "a1", name: "deploy" }), served)?.ref).toBe("ops.deploy");
    expect(aliasOfExecution(ex({ id: "zz", name: "deploy" }), served)).toBeUndefined();
  });
  test("without an id, only a name one alias has; a string is a ref", () => {
    expect(aliasOfExecution(ex({ name: "deploy" }), served)?.ref).toBe("ops.deploy");
    expect(aliasOfExecution(ex({ name: "ping" }), served)).toBeUndefined();
    expect(aliasOfExecution(ex("web.ping"), served)?.id).toBe("a3");
    expect(aliasOfExecution({ id: "e" }, served)).toBeUndefined();
  });
});
