/**
 * ACL parity with Errbot: the table mirrors errbot's tests/base_backend_test.py
 * `test_access_controls` case for case, then adds st2bot's alias- and text-keyed rules.
 */
import { describe, expect, test } from "bun:test";
import { MemoryBackend } from "../../src/chat/memory.ts";
import type { Message } from "../../src/chat/types.ts";
import { type AclRequest, type AclRule, DENIED, checkAccess, findRule, glob, isAdmin, visibleTo } from "../../src/bot/acl.ts";
import { type AclOptions, createAcl } from "../../src/bot/middleware/acl.ts";
import type { Command, Context } from "../../src/bot/types.ts";
import { chatInfo } from "../../src/bot/router.ts";

const OK = "allowed";
type Case = {
  name: string;
  req?: Partial<AclRequest>;
  acl?: Record<string, AclRule>;
  defaults?: AclRule;
  admins?: string[];
  expect: string;
};

/** Errbot's test message: `!command` sent privately by `noterr` to a command of plugin `Dummy`. */
function request(over: Partial<AclRequest> = {}): AclRequest {
  const command = over.command ?? "command";
  const args = over.args ?? "";
  return {
    plugin: "Dummy",
    command,
    typed: args ? `${command} ${args}` : command,
    args,
    senderAcl: "noterr",
    direct: true,
    isAdmin: false,
    adminOnly: false,
    ...over,
  };
}

const inRoom = (room: string, extra: Partial<AclRequest> = {}): Partial<AclRequest> => ({ direct: false, roomAcl: room, ...extra });
const admin = (extra: Partial<AclRequest> = {}): Partial<AclRequest> => ({ command: "admin_command", adminOnly: true, ...extra });

function run(c: Omit<Case, "name" | "expect">): string {
  const verdict = checkAccess(request(c.req), c.acl ?? {}, c.defaults ?? {}, c.admins ?? []);
  return verdict.allowed ? OK : verdict.message;
}

describe("Errbot's test_access_controls, case for case", () => {
  const cases: Case[] = [
    // BOT_ADMINS scenarios
    { name: "admin command by an admin", req: admin(), admins: ["noterr"], expect: OK },
    { name: "admin command without admins", req: admin(), admins: [], expect: DENIED.admin },
    { name: "admins are globs", req: admin(), admins: ["*err"], expect: OK },
    { name: "admin commands are DM-only by default", req: admin(inRoom("room")), admins: ["noterr"], expect: DENIED.adminDirect },
    { name: "unless allowmuc is true", req: admin(inRoom("room")), admins: ["noterr"], acl: { admin_command: { allowmuc: true } }, expect: OK },
    // ACCESS_CONTROLS without wildcards (<4.0 format)
    { name: "no rules", expect: OK },
    { name: "default denies private", defaults: { allowmuc: false, allowprivate: false }, expect: DENIED.private },
    { name: "default denies private, allows muc", defaults: { allowmuc: true, allowprivate: false }, expect: DENIED.private },
    { name: "default allows private", defaults: { allowmuc: false, allowprivate: true }, expect: OK },
    {
      name: "rule overrides the default",
      acl: { command: { allowprivate: false } },
      defaults: { allowmuc: false, allowprivate: true },
      expect: DENIED.private,
    },
    {
      name: "default fields the rule leaves out still apply",
      acl: { command: { allowmuc: true } },
      defaults: { allowmuc: true, allowprivate: false },
      expect: DENIED.private,
    },
    { name: "rule re-allows private", acl: { command: { allowprivate: true } }, defaults: { allowmuc: false, allowprivate: false }, expect: OK },
    { name: "allowrooms match", req: inRoom("room"), acl: { command: { allowrooms: ["room"] } }, expect: OK },
    { name: "allowrooms glob", req: inRoom("room_1"), acl: { command: { allowrooms: ["room_*"] } }, expect: OK },
    { name: "allowrooms miss", req: inRoom("room"), acl: { command: { allowrooms: ["anotherroom@localhost"] } }, expect: DENIED.room },
    { name: "denyrooms match", req: inRoom("room"), acl: { command: { denyrooms: ["room"] } }, expect: DENIED.room },
    { name: "denyrooms *", req: inRoom("room"), acl: { command: { denyrooms: ["*"] } }, expect: DENIED.room },
    { name: "denyrooms miss", req: inRoom("room"), acl: { command: { denyrooms: ["anotherroom"] } }, expect: OK },
    { name: "allowusers match", acl: { command: { allowusers: ["noterr"] } }, expect: OK },
    { name: "allowusers as a plain string", acl: { command: { allowusers: "noterr" } }, expect: OK },
    { name: "allowusers miss", acl: { command: { allowusers: ["err"] } }, expect: DENIED.user },
    { name: "allowusers glob", acl: { command: { allowusers: ["*err"] } }, expect: OK },
    { name: "denyusers miss", acl: { command: { denyusers: ["err"] } }, expect: OK },
    { name: "denyusers match", acl: { command: { denyusers: ["noterr"] } }, expect: DENIED.user },
    { name: "denyusers as a plain string", acl: { command: { denyusers: "noterr" } }, expect: DENIED.user },
    { name: "denyusers glob", acl: { command: { denyusers: ["*err"] } }, expect: DENIED.user },
    { name: "allowargs match", req: { args: "echo" }, acl: { command: { allowargs: ["echo"] } }, expect: OK },
    { name: "allowargs miss", req: { args: "notallowed" }, acl: { command: { allowargs: ["echo"] } }, expect: DENIED.args },
    { name: "denyargs match", req: { args: "echodeny" }, acl: { command: { denyargs: ["echodeny"] } }, expect: DENIED.args },
    { name: "denyargs miss", req: { args: "echo" }, acl: { command: { denyargs: ["echodeny"] } }, expect: OK },
    // ACCESS_CONTROLS with wildcards (>=4.0 format)
    { name: "Plugin:command", acl: { "Dummy:command": { denyusers: ["noterr"] } }, expect: DENIED.user },
    { name: "*:command", acl: { "*:command": { denyusers: ["noterr"] } }, expect: DENIED.user },
    { name: "Plugin:*", acl: { "Dummy:*": { denyusers: ["noterr"] } }, expect: DENIED.user },
    { name: "allowargs glob match", req: { args: "echo" }, acl: { command: { allowargs: ["ec*"] } }, expect: OK },
    { name: "allowargs glob miss", req: { args: "notallowed" }, acl: { command: { allowargs: ["e*"] } }, expect: DENIED.args },
    { name: "denyargs glob", req: { args: "denied" }, acl: { command: { denyargs: ["den*"] } }, expect: DENIED.args },
    {
      name: "overlapping globs: the first match wins",
      acl: { "Dummy:*": { denyusers: ["noterr"] }, "Dummy:command": { denyusers: [] } },
      expect: DENIED.user,
    },
    { name: "numeric user id (Telegram)", req: { senderAcl: "1234" }, acl: { command: { allowusers: ["1234"] } }, expect: OK },
  ];
  for (const c of cases) test(c.name, () => expect(run(c)).toBe(c.expect));
});

describe("beyond Errbot's table", () => {
  const cases: Case[] = [
    { name: "keys are case-insensitive", acl: { "DUMMY:Command": { denyusers: ["noterr"] } }, expect: DENIED.user },
    { name: "user globs are case-sensitive", acl: { command: { allowusers: ["NOTERR"] } }, expect: DENIED.user },
    { name: "a key without ':' applies to any plugin", req: { plugin: "Other" }, acl: { command: { denyusers: ["*"] } }, expect: DENIED.user },
    { name: "a rule for another command does not apply", acl: { other: { denyusers: ["*"] } }, expect: OK },
    { name: "Slack user id", req: { senderAcl: "U0123ABC" }, acl: { command: { allowusers: ["U0123*"] } }, expect: OK },
    { name: "Slack ids keep their case", req: { senderAcl: "U0123ABC" }, acl: { command: { denyusers: ["u0123abc"] } }, expect: OK },
    {
      name: "Mattermost 26-character id",
      req: { senderAcl: "8x4kcmmxw7f4mqd9yb7dppgwcr" },
      acl: { command: { allowusers: ["8x4kcmmxw7f4mqd9yb7dppgwcr"] } },
      expect: OK,
    },
    { name: "an empty allowusers list denies everyone", acl: { command: { allowusers: [] } }, expect: DENIED.user },
    { name: "room rules also accept the room id", req: inRoom("#ops", { roomId: "C0123" }), acl: { command: { allowrooms: ["C0123"] } }, expect: OK },
    { name: "denyrooms by room id", req: inRoom("#ops", { roomId: "C0123" }), acl: { command: { denyrooms: ["C01*"] } }, expect: DENIED.room },
    { name: "allowmuc=false refuses rooms first", req: inRoom("#ops"), acl: { command: { allowmuc: false, allowrooms: ["#ops"] } }, expect: DENIED.muc },
    { name: "allowprivate=false leaves rooms alone", req: inRoom("#ops"), acl: { command: { allowprivate: false } }, expect: OK },
    { name: "room rules do not apply in private", acl: { command: { allowrooms: ["#ops"] } }, expect: OK },
    { name: "arguments are checked before users", req: { args: "x" }, acl: { command: { allowargs: ["y"], denyusers: ["*"] } }, expect: DENIED.args },
    { name: "a non-admin is refused before the room rule for admins", req: admin(inRoom("#ops")), admins: ["boss"], expect: DENIED.admin },
    { name: "the router's isAdmin is honoured", req: admin({ isAdmin: true }), admins: [], expect: OK },
    { name: "admin rules still apply the ACL first", req: admin(), admins: ["noterr"], acl: { admin_command: { denyusers: ["noterr"] } }, expect: DENIED.user },
  ];
  for (const c of cases) test(c.name, () => expect(run(c)).toBe(c.expect));
});

describe("per-alias rules (err-stackstorm's documented example)", () => {
  const SQUAD = ["@admin1", "@admin2"];
  const acl: Record<string, AclRule> = {
    whoami: { allowusers: ["*"] },
    "st2 apu status*": { allowrooms: ["#channel"], allowusers: [...SQUAD, "@user1"] },
    "st2 apu*": { allowrooms: ["#channel"], allowusers: SQUAD },
  };
  const st2 = (typed: string, user: string, room = "#channel") =>
    run({
      req: { plugin: "St2", command: "st2", typed, args: typed.replace(/^st2\s*/, ""), senderAcl: user, direct: false, roomAcl: room },
      acl,
    });

  test("user1 may see the upgrade status", () => expect(st2("st2 apu status web", "@user1")).toBe(OK));
  test("user1 may not start the upgrade", () => expect(st2("st2 apu start web", "@user1")).toBe(DENIED.user));
  test("the squad may start it", () => expect(st2("st2 apu start web", "@admin2")).toBe(OK));
  test("only from #channel", () => expect(st2("st2 apu status web", "@user1", "#random")).toBe(DENIED.room));
  test("case and extra spaces do not slip past a text rule", () => expect(st2("ST2   apu  START web", "@user1")).toBe(DENIED.user));
  test("extra spaces still match the allowing rule", () => expect(st2("st2  apu   status web", "@user1")).toBe(OK));
  test("other st2 commands are unrestricted", () => expect(st2("st2 pack list", "@user1")).toBe(OK));

  const aliasRules: Record<string, AclRule> = {
    "alias:st2dm_apu.apu_status": { allowusers: ["@user1", ...SQUAD] },
    "alias:ST2DM_APU.*": { allowusers: SQUAD },
    st2: { denyusers: ["@banned"] },
  };
  const alias = (aliasRef: string | undefined, user: string) =>
    run({ req: { plugin: "St2", command: "st2", typed: "st2 x", args: "x", aliasRef, senderAcl: user }, acl: aliasRules });

  test("alias rule allows user1 the status alias", () => expect(alias("st2dm_apu.apu_status", "@user1")).toBe(OK));
  test("pack-wide alias rule (case-insensitive key) refuses user1 the others", () =>
    expect(alias("st2dm_apu.apu_start", "@user1")).toBe(DENIED.user));
  test("aliases of other packs fall through to the st2 rule", () => expect(alias("core.local", "@banned")).toBe(DENIED.user));
  test("with no alias known, alias keys are skipped", () => expect(alias(undefined, "@user1")).toBe(OK));

  test("findRule reports that an alias key must wait for the match", () => {
    expect(findRule({ plugin: "St2", command: "st2", typed: "st2 x" }, aliasRules, true)).toEqual({ kind: "needs-alias" });
    const errbotFirst = { "St2:*": {}, ...aliasRules };
    expect(findRule({ plugin: "St2", command: "st2", typed: "st2 x" }, errbotFirst, true)).toMatchObject({ kind: "rule", key: "St2:*" });
  });
});

describe("glob: Python fnmatch.fnmatchcase semantics", () => {
  const table: Array<[text: string, pattern: string, matches: boolean]> = [
    ["", "*", true],
    ["a/b.c", "*", true],
    ["line1\nline2", "line*", true],
    ["ab", "a?", true],
    ["a", "a?", false],
    ["b", "[abc]", true],
    ["d", "[abc]", false],
    ["d", "[!abc]", true],
    ["a", "[!abc]", false],
    ["m", "[a-z]", true],
    ["m", "[z-a]", false],
    ["]", "[]]", true],
    ["a", "[!]]", true],
    ["]", "[!]]", false],
    ["a[", "a[", true],
    ["[!]", "[!]", true],
    ["-", "[a-]", true],
    ["^", "[^a]", true],
    ["b", "[^a]", false],
    ["a.b", "a.b", true],
    ["axb", "a.b", false],
    ["a\\b", "a\\b", true],
    ["(x)+{1}|$", "(x)+{1}|$", true],
    ["#ops", "#ops", true],
    ["é1", "é?", true],
    ["😀", "?", true],
    ["NoTeRr", "noterr", false],
  ];
  for (const [text, pattern, matches] of table) {
    test(`${JSON.stringify(text)} ~ ${JSON.stringify(pattern)} is ${matches}`, () => expect(glob(text, pattern)).toBe(matches));
  }
  test("case-insensitive form (ciglob)", () => expect(glob("St2:ST2", "st2:*", false)).toBe(true));
  test("isAdmin matches BOT_ADMINS globs on the ACL attribute", () => {
    expect(isAdmin("@alice", ["@bob", "@al*"])).toBe(true);
    expect(isAdmin("@Alice", ["@alice"])).toBe(false);
    expect(isAdmin("@alice", [])).toBe(false);
  });
});

describe("visibleTo (hide_restricted_commands)", () => {
  const base = () => {
    const { args: _args, ...rest } = request();
    return rest;
  };
  test("a command the user is denied is hidden", () =>
    expect(visibleTo(base(), { command: { denyusers: ["noterr"] } }, {}, [])).toBe(false));
  test("argument rules do not hide a command", () =>
    expect(visibleTo(base(), { command: { allowargs: ["only-this"] } }, {}, [])).toBe(true));
  test("admin commands are hidden from non-admins", () =>
    expect(visibleTo({ ...base(), adminOnly: true }, {}, {}, ["boss"])).toBe(false));
  test("admin commands are hidden from admins in a room unless allowmuc", () => {
    const roomReq = { ...base(), adminOnly: true, direct: false, roomAcl: "#ops" };
    expect(visibleTo(roomReq, {}, {}, ["noterr"])).toBe(false);
    expect(visibleTo(roomReq, { command: { allowmuc: true } }, {}, ["noterr"])).toBe(true);
  });
  test("an alias is judged by its alias rule", () => {
    const rules = { "alias:pack.secret": { allowusers: ["@boss"] } };
    expect(visibleTo({ ...base(), aliasRef: "pack.secret" }, rules, {}, [])).toBe(false);
    expect(visibleTo({ ...base(), aliasRef: "pack.open" }, rules, {}, [])).toBe(true);
  });
});

// ---- the middleware, through a fake context --------------------------------------------

const st2Command: Command = { plugin: "St2", name: "st2", help: "run an action alias", run: async () => {} };
const adminCommand: Command = { plugin: "Dummy", name: "admin_command", help: "admin", adminOnly: true, run: async () => {} };

function fakeContext(cmd: Command | undefined, typed: string, msg: Partial<Message> = {}) {
  const replies: string[] = [];
  const [name = "", ...rest] = typed.split(" ");
  const m: Message = { text: `!${typed}`, from: { id: "U1", nick: "alice", aclId: "@alice", st2User: "alice" }, direct: true, ...msg };
  const ctx: Context = {
    msg: m,
    chat: chatInfo(new MemoryBackend(), m),
    command: { name, args: rest.join(" "), typed },
    commandDef: cmd,
    isAdmin: false,
    reply: async (text) => void replies.push(text),
    replySecret: async () => {},
  };
  return { ctx, replies };
}

async function pass(acl: ReturnType<typeof createAcl>, ctx: Context): Promise<boolean> {
  let called = false;
  await acl.middleware(ctx, async () => void (called = true));
  return called;
}

describe("ACL middleware", () => {
  const options = (over: Partial<AclOptions> = {}): AclOptions => ({
    rules: { "alias:ops.*": { allowusers: ["@ops-*"] }, st2: { denyusers: ["@mallory"] } },
    admins: ["@root"],
    runsAliases: (cmd) => cmd.name === "st2",
    ...over,
  });

  test("replies with Errbot's message and stops", async () => {
    const acl = createAcl(options());
    const { ctx, replies } = fakeContext(adminCommand, "admin_command");
    expect(await pass(acl, ctx)).toBe(false);
    expect(replies).toEqual(["This command requires bot-admin privileges"]);
  });

  test("hide_restricted_access refuses silently", async () => {
    const acl = createAcl(options({ hideRestrictedAccess: true }));
    const { ctx, replies } = fakeContext(adminCommand, "admin_command");
    expect(await pass(acl, ctx)).toBe(false);
    expect(replies).toEqual([]);
  });

  test("an allowed command runs", async () => {
    const acl = createAcl(options());
    const { ctx, replies } = fakeContext(adminCommand, "admin_command", { from: { id: "U9", nick: "root", aclId: "@root", st2User: "root" } });
    expect(await pass(acl, ctx)).toBe(true);
    expect(replies).toEqual([]);
  });

  test("room rules see the room name", async () => {
    const acl = createAcl(options({ rules: { whoami: { allowrooms: ["#ops"] } } }));
    const whoami: Command = { plugin: "Utils", name: "whoami", help: "", run: async () => {} };
    const inOps = fakeContext(whoami, "whoami", { direct: false, room: { id: "C1", name: "#ops" } });
    const inRandom = fakeContext(whoami, "whoami", { direct: false, room: { id: "C2", name: "#random" } });
    expect(await pass(acl, inOps.ctx)).toBe(true);
    expect(await pass(acl, inRandom.ctx)).toBe(false);
    expect(inRandom.replies).toEqual(["You're not allowed to access this command from this room"]);
  });

  test("unknown commands pass through to the router's fallback", async () => {
    const { ctx } = fakeContext(undefined, "nosuch");
    expect(await pass(createAcl(options()), ctx)).toBe(true);
  });

  test("an alias-keyed rule defers the decision to authorizeAlias", async () => {
    const acl = createAcl(options());
    const { ctx, replies } = fakeContext(st2Command, "st2 deploy web");
    expect(await pass(acl, ctx)).toBe(true);
    expect(await acl.authorizeAlias(ctx, "ops.deploy")).toBe(false);
    expect(replies).toEqual(["You're not allowed to access this command from this user"]);
    expect(await acl.authorizeAlias(ctx, "core.local")).toBe(true);
  });

  test("an alias rule can grant what a later command rule denies", async () => {
    const acl = createAcl(options({ rules: { "alias:ops.status": { allowusers: ["@alice"] }, st2: { denyusers: ["*"] } } }));
    const { ctx, replies } = fakeContext(st2Command, "st2 status web");
    expect(await pass(acl, ctx)).toBe(true);
    expect(await acl.authorizeAlias(ctx, "ops.status")).toBe(true);
    expect(await acl.authorizeAlias(ctx, "ops.deploy")).toBe(false);
    expect(await acl.authorizeAlias(ctx, undefined)).toBe(false);
    expect(replies).toHaveLength(2);
  });

  test("an Errbot-form rule before the alias rules decides at once", async () => {
    const acl = createAcl(options({ rules: { "St2:*": { denyusers: ["@alice"] }, "alias:ops.*": {} } }));
    const { ctx, replies } = fakeContext(st2Command, "st2 deploy web");
    expect(await pass(acl, ctx)).toBe(false);
    expect(replies).toEqual(["You're not allowed to access this command from this user"]);
  });

  test("without alias keys the middleware's verdict stands for the alias; a copied context is judged afresh", async () => {
    // Rules with no `alias:` key: the middleware's allow is final for that message.
    const acl = createAcl(options({ rules: { st2: { denyusers: ["@mallory"] } } }));
    const alice = fakeContext(st2Command, "st2 deploy web");
    expect(await pass(acl, alice.ctx)).toBe(true);
    expect(await acl.authorizeAlias(alice.ctx, "ops.deploy")).toBe(true);
    // A context the middleware never saw (executions' subcommands pass a copy) is checked in full.
    const mallory = fakeContext(st2Command, "st2 deploy web", { from: { id: "U6", nick: "mallory", aclId: "@mallory", st2User: "mallory" } });
    expect(await acl.authorizeAlias({ ...mallory.ctx }, "ops.deploy")).toBe(false);
    expect(mallory.replies).toEqual(["You're not allowed to access this command from this user"]);
    // The verdict belongs to the command it was given for: a context now naming another is judged afresh.
    expect(await acl.authorizeAlias({ ...alice.ctx, commandDef: adminCommand }, "ops.deploy")).toBe(false);
    alice.ctx.commandDef = adminCommand;
    expect(await acl.authorizeAlias(alice.ctx, "ops.deploy")).toBe(false);
  });

  test("with no rules and an empty default, anyone runs any command but an admin-only one", async () => {
    for (const defaults of [undefined, {}, { allowusers: undefined }]) {
      const acl = createAcl(options({ rules: {}, defaults }));
      const places: Partial<Message>[] = [{}, { direct: false, room: { id: "C1", name: "#random" } }, { from: { id: "U6", nick: "mallory", aclId: "@mallory", st2User: "mallory" } }];
      for (const place of places) {
        const run = fakeContext(st2Command, "st2 deploy web", place);
        expect(await pass(acl, run.ctx)).toBe(true);
        expect(await acl.authorizeAlias(run.ctx, "ops.deploy")).toBe(true);
        const admin = fakeContext(adminCommand, "admin_command", place);
        expect(await pass(acl, admin.ctx)).toBe(false);
        expect(admin.replies).toEqual(["This command requires bot-admin privileges"]);
      }
    }
    // A default rule with any field set is judged as before.
    const closed = createAcl(options({ rules: {}, defaults: { allowprivate: false } }));
    const dm = fakeContext(st2Command, "st2 deploy web");
    expect(await pass(closed, dm.ctx)).toBe(false);
    expect(dm.replies).toEqual(["You're not allowed to access this command via private message to me"]);
  });

  test("commands that run no alias ignore alias keys", async () => {
    const acl = createAcl(options({ rules: { "alias:*": { denyusers: ["*"] } } }));
    const whoami: Command = { plugin: "Utils", name: "whoami", help: "", run: async () => {} };
    const { ctx } = fakeContext(whoami, "whoami");
    expect(await pass(acl, ctx)).toBe(true);
  });

  test("mayList hides what the sender may not run but keeps alias-gated commands", () => {
    const acl = createAcl(options());
    const { ctx } = fakeContext(undefined, "help");
    expect(acl.mayList(ctx, adminCommand)).toBe(false);
    expect(acl.mayList(ctx, st2Command)).toBe(true);
    expect(acl.mayListAlias(ctx, st2Command, "ops.deploy", "st2 deploy <app>")).toBe(false);
    expect(acl.mayListAlias(ctx, st2Command, "core.local", "st2 run <cmd>")).toBe(true);
  });
});
