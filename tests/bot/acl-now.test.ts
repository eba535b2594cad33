/**
 * The ACL's verdict read at once (`middleware.now`, `authorizeAliasNow`, the router's direct
 * path) against Errbot's two-step rule applied by hand (`checkAccess`), and against the
 * `(ctx, next)` chain, over a matrix of rules, defaults, senders, places and commands. Any
 * divergence (a command that runs on one path and not the other, another reply, another
 * audit line) fails here.
 */
import { describe, expect, test } from "bun:test";
import { MemoryBackend } from "../../src/chat/memory.ts";
import type { Message } from "../../src/chat/types.ts";
import { type AclRule, checkAccess, findRule } from "../../src/bot/acl.ts";
import { buildRequest, createAcl, type Acl } from "../../src/bot/middleware/acl.ts";
import { chatInfo, createRouter } from "../../src/bot/router.ts";
import type { Command, Context, Middleware } from "../../src/bot/types.ts";
import { captureLogs } from "../../src/lib/log.ts";

const ADMINS = ["@root"];
const RULES: Record<string, AclRule>[] = [
  {},
  { st2: { denyusers: ["@mallory"] } },
  { "alias:ops.*": { allowusers: ["@ops-*"] }, st2: { denyusers: ["@mallory"] } },
  { "alias:ops.status": { allowusers: ["@alice"] }, st2: { denyusers: ["*"] } },
  { "St2:*": { denyusers: ["@alice"] }, "alias:ops.*": {} },
  { "st2 deploy*": { allowrooms: ["#ops"] }, whoami: { allowprivate: false } },
  { st2: { allowargs: ["status *"], denyargs: ["* prod"] } },
  { admin_command: { allowmuc: true }, "alias:*": { denyrooms: ["#random"] } },
];
const DEFAULTS: (AclRule | undefined)[] = [undefined, {}, { allowprivate: false }, { allowmuc: false }, { denyusers: ["@mallory"] }];
const SENDERS = ["alice", "mallory", "root", "ops-bob"];
const PLACES: Partial<Message>[] = [{ direct: true }, { direct: false, room: { id: "C1", name: "#ops" } }, { direct: false, room: { id: "C2", name: "#random" } }];
const LINES: [string, string][] = [
  ["st2 deploy web", "ops.deploy"],
  ["st2 status web", "ops.status"],
  ["st2 deploy prod", "core.local"],
  ["whoami", ""],
  ["admin_command", ""],
];

const runsAliases = (cmd: Command) => cmd.name === "st2";
const whoami: Command = { plugin: "Utils", name: "whoami", help: "", run: async () => {} };
const adminCommand: Command = { plugin: "Dummy", name: "admin_command", help: "", adminOnly: true, run: async () => {} };
const st2Command: Command = { plugin: "St2", name: "st2", help: "", run: async () => {} };
const byName: Record<string, Command> = { st2: st2Command, whoami, admin_command: adminCommand };

function message(sender: string, place: Partial<Message>, text: string): Message {
  return { text: `!${text}`, from: { id: sender, nick: sender, aclId: `@${sender}`, st2User: sender }, direct: true, ...place };
}

/** Errbot's verdict by hand: the command's rule (unless an alias key waits), then the alias's. */
function expected(rules: Record<string, AclRule>, defaults: AclRule | undefined, ctx: Context, ref: string): string {
  const cmd = ctx.commandDef!;
  const req = buildRequest(ctx, cmd);
  const waits = runsAliases(cmd) && findRule(req, rules, true).kind === "needs-alias";
  const first = waits ? { allowed: true as const } : checkAccess(req, rules, defaults, ADMINS);
  if (!first.allowed) return first.message;
  if (!runsAliases(cmd)) return "ran";
  const second = checkAccess({ ...req, aliasRef: ref }, rules, defaults, ADMINS);
  return second.allowed ? "ran" : second.message;
}

function context(msg: Message, typed: string, replies: string[]): Context {
  const [name = "", ...rest] = typed.split(" ");
  return {
    msg,
    chat: chatInfo(new MemoryBackend(), msg),
    command: { name, args: rest.join(" "), typed },
    commandDef: byName[name],
    isAdmin: ADMINS.includes(msg.from.aclId),
    reply: async (text) => void replies.push(text),
    replySecret: async () => {},
  };
}

/** The sync path: `now`, then (for alias commands) `authorizeAliasNow`. */
async function viaNow(acl: Acl, ctx: Context, ref: string): Promise<string> {
  const pass = acl.middleware.now!(ctx);
  if (pass !== true) return void (await pass), "refused";
  if (!runsAliases(ctx.commandDef!)) return "ran";
  const allowed = acl.authorizeAliasNow(ctx, ref);
  return (allowed === true || (await allowed)) ? "ran" : "refused";
}

/** The chain: `(ctx, next)`, then `authorizeAlias`. */
async function viaChain(acl: Acl, ctx: Context, ref: string): Promise<string> {
  let outcome = "refused";
  await acl.middleware(ctx, async () => {
    if (!runsAliases(ctx.commandDef!) || (await acl.authorizeAlias(ctx, ref))) outcome = "ran";
  });
  return outcome;
}

function* matrix() {
  for (const rules of RULES) for (const defaults of DEFAULTS) for (const hide of [false, true]) {
    for (const sender of SENDERS) for (const place of PLACES) for (const [typed, ref] of LINES) yield { rules, defaults, hide, sender, place, typed, ref };
  }
}

describe("the ACL's verdict at once", () => {
  test("now + authorizeAliasNow ≡ the (ctx, next) chain + authorizeAlias ≡ Errbot's rule by hand, replies and audit notes included", async () => {
    let cases = 0;
    let refused = 0;
    for (const c of matrix()) {
      const opts = { rules: c.rules, defaults: c.defaults, admins: ADMINS, hideRestrictedAccess: c.hide, runsAliases };
      const msg = message(c.sender, c.place, c.typed);
      const nowReplies: string[] = [];
      const chainReplies: string[] = [];
      const nowCtx = context(msg, c.typed, nowReplies);
      const chainCtx = context(msg, c.typed, chainReplies);
      const want = expected(c.rules, c.defaults, nowCtx, c.ref);
      const stop = captureLogs(() => {});
      const got = [await viaNow(createAcl(opts), nowCtx, c.ref), await viaChain(createAcl(opts), chainCtx, c.ref)];
      stop();
      const label = JSON.stringify(c);
      expect(got, label).toEqual(want === "ran" ? ["ran", "ran"] : ["refused", "refused"]);
      expect(nowReplies, label).toEqual(want === "ran" || c.hide ? [] : [want]);
      expect(chainReplies, label).toEqual(nowReplies);
      expect(nowCtx.audit, label).toEqual(chainCtx.audit);
      if (want !== "ran") expect(nowCtx.audit?.outcome, label).toBe(`denied by the ACL: ${want}`);
      cases++;
      if (want !== "ran") refused++;
    }
    // The matrix exercises both verdicts, widely.
    expect(cases).toBe(RULES.length * DEFAULTS.length * 2 * SENDERS.length * PLACES.length * LINES.length);
    expect(refused).toBeGreaterThan(cases / 4);
    expect(refused).toBeLessThan((cases * 3) / 4);
  });

  test("the router's direct path (every middleware has `now`) and its chain give the same outcomes, replies and audit lines", async () => {
    const outcomes = async (direct: boolean) => {
      const out: string[] = [];
      for (const c of matrix()) {
        if (c.hide) continue;
        const acl = createAcl({ rules: c.rules, defaults: c.defaults, admins: ADMINS, runsAliases: (cmd) => cmd.name === "st2" });
        // The same step without `now`: the router must take the `(ctx, next)` chain.
        const chained: Middleware = (ctx, next) => acl.middleware(ctx, next);
        const ran: string[] = [];
        const replies: string[] = [];
        const commands: Command[] = [
          { ...st2Command, run: async (ctx) => void ((await acl.authorizeAliasNow(ctx, c.ref)) && ran.push(ctx.command!.typed)) },
          { ...whoami, run: async (ctx) => void ran.push(ctx.command!.typed) },
          { ...adminCommand, run: async (ctx) => void ran.push(ctx.command!.typed) },
        ];
        const handler = createRouter(new MemoryBackend(), {
          prefix: "!",
          botName: "st2bot",
          commands,
          middleware: [direct ? acl.middleware : chained],
          isAdmin: (m) => ADMINS.includes(m.from.aclId),
          reply: async (_m, o) => void replies.push(o.text),
          unknown: async () => {},
        });
        const lines: string[] = [];
        const stop = captureLogs((line) => void lines.push(line), "info");
        await handler(message(c.sender, c.place, c.typed));
        stop();
        const audit = lines.filter((l) => l.includes("bot.audit")).map((l) => l.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "<time>"));
        out.push(JSON.stringify({ ran, replies, audit }));
      }
      return out;
    };
    const direct = await outcomes(true);
    expect(direct).toEqual(await outcomes(false));
    expect(direct.filter((o) => o.includes('"ran":[]')).length).toBeGreaterThan(0);
  });
});
