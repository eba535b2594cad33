/** The built-in commands, run through a fake context that records what the bot replies. */
import { describe, expect, test } from "bun:test";
import { MemoryBackend } from "../../src/chat/memory.ts";
import type { Identity, Message } from "../../src/chat/types.ts";
import { type BuiltinDeps, builtinCommands, duration, unknownCommandReply } from "../../src/bot/commands/builtins.ts";
import type { StatusSource } from "../../src/bot/status.ts";
import { createAcl } from "../../src/bot/middleware/acl.ts";
import { closeMatches, similarity } from "../../src/bot/suggest.ts";
import type { Command, Context } from "../../src/bot/types.ts";
import { registerSecret } from "../../src/lib/log.ts";
import { chatInfo } from "../../src/bot/router.ts";

const alice: Identity = { id: "U0ALICE", nick: "alice", fullName: "Alice Liddell", aclId: "@alice", st2User: "alice" };
const START = Date.parse("2030-01-01T00:00:00Z");

const status: StatusSource = {
  version: "1.2.3",
  startedAt: START,
  chat: () => ({ state: "connected", since: START + 1000 }),
  st2: () => ({ state: "ok" }),
  aliases: () => 42,
  stream: () => ({ state: "reconnecting", detail: "HTTP 503" }),
  outbox: () => ({ pending: 3, dead: 1, delivered: 7, failedAttempts: 2 }),
};

const extra: Command[] = [
  { plugin: "St2", name: "st2", usage: "st2 <command>", help: "Run a StackStorm action alias", run: async () => {} },
  { plugin: "St2", name: "st2help", usage: "st2help [--pack P] [--filter F]", help: "List action aliases", run: async () => {} },
  { plugin: "St2", name: "st2disable", help: "Disable the bot", adminOnly: true, run: async () => {} },
  { plugin: "St2", name: "st2secret", help: "Hidden helper", hidden: true, run: async () => {} },
];

function setup(over: Partial<BuiltinDeps> = {}) {
  const commands: Command[] = [];
  const deps: BuiltinDeps = { prefix: "!", commands: () => commands, status, now: () => START + 93_784_000, ...over };
  commands.push(...builtinCommands(deps), ...extra);
  return commands;
}

/** Runs `!<typed>` through the named command and returns its replies. */
async function say(commands: Command[], typed: string, msg: Partial<Message> = {}): Promise<string[]> {
  const replies: string[] = [];
  const [name = "", ...rest] = typed.split(" ");
  const m: Message = { text: `!${typed}`, from: alice, direct: true, ...msg };
  const ctx: Context = {
    msg: m,
    chat: chatInfo(new MemoryBackend({ name: "slack" }), m),
    command: { name, args: rest.join(" "), typed },
    isAdmin: false,
    reply: async (text) => void replies.push(text),
    replySecret: async () => {},
  };
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) throw new Error(`no command ${name}`);
  await cmd.run(ctx);
  return replies;
}

describe("!help", () => {
  test("lists every visible command grouped by plugin, with usage and help line", async () => {
    const [text] = await say(setup(), "help");
    expect(text).toBe(
      [
        "### All commands",
        "",
        "**Health**",
        "",
        "- **!status** - Show the bot's version, uptime and the state of chat, StackStorm, the stream and the outbox",
        "",
        "**Help**",
        "",
        "- **!about** - Return information about this st2bot instance and version",
        "- **!help [plugin or command]** - Returns a help string listing available options",
        "",
        "**St2**",
        "",
        "- **!st2 <command>** - Run a StackStorm action alias",
        "- **!st2disable** - Disable the bot",
        "- **!st2help [--pack P] [--filter F]** - List action aliases",
        "",
        "**Utils**",
        "",
        "- **!whoami** - Shows who the bot thinks you are, and the aclattr to put in access_controls rules",
        "",
      ].join("\n"),
    );
  });

  test("with hide_restricted_commands, only what the sender may run", async () => {
    const acl = createAcl({ rules: { whoami: { denyusers: ["@alice"] } }, admins: ["@root"] });
    const [text] = await say(setup({ listFilter: acl.mayList }), "help");
    expect(text).not.toContain("st2disable");
    expect(text).not.toContain("whoami");
    expect(text).not.toContain("**Utils**");
    expect(text).toContain("- **!st2help [--pack P] [--filter F]** - List action aliases");
  });

  test("one plugin, named in any case", async () => {
    const [text] = await say(setup(), "help st2");
    expect(text).toStartWith("\n**St2**\n\n- **!st2 <command>**");
    expect(text).not.toContain("whoami");
    expect(text).not.toContain("st2secret");
  });

  test("one command", async () => {
    expect(await say(setup(), "help whoami")).toEqual([
      "- **!whoami** - Shows who the bot thinks you are, and the aclattr to put in access_controls rules",
    ]);
  });

  test("something unknown", async () => {
    expect(await say(setup(), "help nosuch")).toEqual(["That command is not defined."]);
  });
});

describe("!whoami", () => {
  test("in a DM: identity, client and the aclattr to use in rules", async () => {
    expect(await say(setup(), "whoami")).toEqual([
      [
        "| key      | value",
        "| -------- | --------",
        "| person   | `U0ALICE`",
        "| nick     | `alice`",
        "| fullname | `Alice Liddell`",
        "| client   | `slack`",
        "| aclattr  | `@alice`",
        "| st2 user | `alice`",
        "",
        "Use `aclattr` in allowusers/denyusers of an access_controls rule.",
      ].join("\n"),
    ]);
  });

  test("in a room: the room name and id too, and the email when known", async () => {
    const [text] = await say(setup(), "whoami", {
      from: { ...alice, email: "alice@example.com" },
      direct: false,
      room: { id: "C0OPS", name: "#ops" },
    });
    expect(text).toContain("| email    | `alice@example.com`");
    expect(text).toContain("| room     | `#ops`");
    expect(text).toContain("| room id  | `C0OPS`");
    expect(text).toContain("and `room` in allowrooms/denyrooms");
  });
});

describe("!about and !status", () => {
  test("about names the version", async () => {
    const [text] = await say(setup(), "about");
    expect(text).toStartWith("st2bot version 1.2.3\n\n");
    expect(text).toContain("Type !help for the commands.");
  });

  test("status reports every component", async () => {
    expect(await say(setup(), "status")).toEqual([
      [
        "Yes I am alive.",
        "- version: 1.2.3",
        "- up for 1d 2h 3m 4s (since 2030-01-01T00:00:00.000Z)",
        "- chat (slack): connected since 2030-01-01T00:00:01.000Z",
        "- StackStorm: ok",
        "- action aliases: 42",
        "- stream: reconnecting (HTTP 503)",
        "- outbox: 3 pending, 1 dead",
      ].join("\n"),
    ]);
  });

  test("status never shows a registered secret that leaked into a detail", async () => {
    registerSecret("s3cr3t-token-value");
    const leaky = { ...status, st2: () => ({ state: "error", detail: "401 for token s3cr3t-token-value" }) };
    const [text] = await say(setup({ status: leaky }), "status");
    expect(text).toContain("- StackStorm: error (401 for token ***)");
    expect(text).not.toContain("s3cr3t-token-value");
  });

  test("duration", () => {
    expect(duration(0)).toBe("0s");
    expect(duration(61_000)).toBe("1m 1s");
    expect(duration(3_600_000)).toBe("1h 0m 0s");
  });
});

describe("unknown commands (Errbot's wording)", () => {
  const names = ["help", "whoami", "about", "status", "st2", "st2help", "st2session_start"];
  test("no close name", () => expect(unknownCommandReply("xyzzy", names)).toBe('Command "xyzzy" not found.'));
  test("one suggestion", () =>
    expect(unknownCommandReply("hepl", names)).toBe('Command "hepl" not found.\n\nDid you mean "!help" ?'));
  test("several, best first", () =>
    expect(unknownCommandReply("st2hlp", names)).toBe('Command "st2hlp" not found.\n\nDid you mean "!st2help" or "!st2" or "!help" ?'));
  test("with arguments, the command plus its first argument is tried too", () =>
    expect(unknownCommandReply("st2session strat now", names)).toBe(
      'Command "st2session" / "st2session strat" not found.\n\nDid you mean "!st2session start" ?',
    ));
  test("another prefix", () => expect(unknownCommandReply("hepl", names, ".")).toBe('Command "hepl" not found.\n\nDid you mean ".help" ?'));
});

describe("difflib parity", () => {
  test("ratios equal Python's SequenceMatcher", () => {
    expect(similarity("abxcd", "abcd")).toBeCloseTo(0.8888888888888888, 12);
    expect(similarity("st2disable_session", "st2sessiondisable")).toBeCloseTo(0.5714285714285714, 12);
  });
  test("get_close_matches order and cutoff", () => {
    expect(closeMatches("stat", ["help", "whoami", "about", "status", "st2", "st2help", "state"])).toEqual(["state", "status"]);
    expect(closeMatches("st2hlp", ["help", "whoami", "about", "status", "st2", "st2help"])).toEqual(["st2help", "st2", "help"]);
  });
});
