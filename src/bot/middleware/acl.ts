/**
 * The ACL step of the command pipeline (Errbot's `acls` command filter): builds an
 * `AclRequest` from the context, replies with Errbot's denial message (or stays silent under
 * `hide_restricted_access`) and only calls `next()` when the command may run.
 *
 * Commands that run action aliases (the st2 command) are checked twice at most: here, and —
 * when an `alias:` key could still decide — again by `authorizeAlias` once the alias is
 * matched. The st2 command must call `authorizeAlias` before executing anything.
 */
import type { AclRule } from "../../config/schema.ts";
import { logger } from "../../lib/log.ts";
import { type AclRequest, checkAccess, findRule, isAliasKey, visibleTo } from "../acl.ts";
import { note } from "../audit.ts";
import type { Command, Context, Middleware } from "../types.ts";

const log = logger("bot.acl");

export interface AclOptions {
  /** `[access_controls]`, in file order. */
  rules: Record<string, AclRule>;
  /** The rule every matched rule is laid over (Errbot's ACCESS_CONTROLS_DEFAULT). */
  defaults?: AclRule;
  /** `bot.admins`: globs on the sender's ACL attribute. */
  admins: readonly string[];
  /** Deny silently instead of replying (Errbot's HIDE_RESTRICTED_ACCESS). */
  hideRestrictedAccess?: boolean;
  /** Which commands run action aliases; their check may wait for `authorizeAlias`. */
  runsAliases?: (cmd: Command) => boolean;
}

export interface Acl {
  /** The ACL step; it offers `now` (see `Middleware`): its verdict without the chain. */
  middleware: Middleware;
  /**
   * The final check for an alias-running command once the alias is matched (`aliasRef`
   * undefined when nothing matched). Replies with the denial unless hidden; true when allowed.
   * Throws when the context carries no resolved command (a router bug).
   */
  authorizeAlias(ctx: Context, aliasRef: string | undefined): Promise<boolean>;
  /**
   * `authorizeAlias`'s verdict, as a plain `true` when the command may go on (no turn waited),
   * else the promise of it (false once the denial is told).
   */
  authorizeAliasNow(ctx: Context, aliasRef: string | undefined): boolean | Promise<boolean>;
  /** Whether `cmd` should be listed to the sender (`hide_restricted_commands`). */
  mayList(ctx: Context, cmd: Command): boolean;
  /** Whether an alias should be listed to the sender; `typed` is its display text with the prefix command (`st2 apu status <role>`). */
  mayListAlias(ctx: Context, cmd: Command, aliasRef: string, typed: string): boolean;
}

/** Builds the ACL step and its helpers from config pieces. */
export function createAcl(opts: AclOptions): Acl {
  const defaults = opts.defaults ?? {};
  const runsAliases = opts.runsAliases ?? (() => false);
  // Without an `alias:` key, knowing the alias cannot change a verdict: the middleware's allow
  // for a message's command is final, and `authorizeAlias` need not judge that message again.
  const aliasKeys = Object.keys(opts.rules).some((key) => isAliasKey(key));
  /** The command the middleware allowed, by the message's context (a copied context is judged afresh). */
  const allowed = new WeakMap<Context, Command>();
  // No rule and an empty default (the default configuration): every check but the admin one
  // passes whoever asks from wherever, so only admin-only commands need a request judged.
  const open = Object.keys(opts.rules).length === 0 && Object.values(defaults).every((value) => value === undefined);

  const deny = async (ctx: Context, req: AclRequest, message: string): Promise<false> => {
    log.info("command refused", { user: req.senderAcl, command: `${req.plugin}:${req.command}`, alias: req.aliasRef, reason: message });
    note(ctx, { outcome: `denied by the ACL: ${message}` });
    if (!opts.hideRestrictedAccess) await ctx.reply(message);
    return false;
  };

  /** The step's verdict (see `Middleware.now`): judged in place, only a denial waits for its reply. */
  const now = (ctx: Context): true | Promise<void> => {
    const cmd = ctx.commandDef;
    // No resolved command means an unknown one: the router's fallback answers it, not the ACL.
    if (!cmd || !ctx.command) return true;
    // Open: nothing to remember either, `authorizeAliasNow` tells the same from the command alone.
    if (open && cmd.adminOnly !== true) return true;
    const req = buildRequest(ctx, cmd);
    if (runsAliases(cmd) && findRule(req, opts.rules, true).kind === "needs-alias") return true;
    const verdict = checkAccess(req, opts.rules, defaults, opts.admins);
    if (!verdict.allowed) return deny(ctx, req, verdict.message).then(() => undefined);
    if (!aliasKeys) allowed.set(ctx, cmd);
    return true;
  };

  const middleware: Middleware = Object.assign(
    async (ctx: Context, next: () => Promise<void>) => {
      const pass = now(ctx);
      if (pass === true) return next();
      await pass;
    },
    { now },
  );

  const authorizeAliasNow = (ctx: Context, aliasRef: string | undefined): boolean | Promise<boolean> => {
    const cmd = ctx.commandDef;
    // Only reachable through a router bug; refusing (the router's generic error) is the safe side.
    if (!cmd || !ctx.command) throw new Error("authorizeAlias called without a resolved command on the context");
    if ((open && cmd.adminOnly !== true) || allowed.get(ctx) === cmd) return true;
    const req = { ...buildRequest(ctx, cmd), aliasRef };
    const verdict = checkAccess(req, opts.rules, defaults, opts.admins);
    return verdict.allowed ? true : deny(ctx, req, verdict.message);
  };

  return {
    middleware,
    authorizeAliasNow,
    async authorizeAlias(ctx, aliasRef) {
      return authorizeAliasNow(ctx, aliasRef);
    },
    mayList(ctx, cmd) {
      const req = buildRequest(ctx, cmd, cmd.name);
      // An alias-running command stays listed while some alias rule might still allow it.
      if (runsAliases(cmd) && findRule(req, opts.rules, true).kind === "needs-alias") return true;
      return visibleTo(req, opts.rules, defaults, opts.admins);
    },
    mayListAlias(ctx, cmd, aliasRef, typed) {
      return visibleTo({ ...buildRequest(ctx, cmd, typed), aliasRef }, opts.rules, defaults, opts.admins);
    },
  };
}

/** The request for `cmd` as sent in `ctx`; `typed` overrides the text (help listings). */
export function buildRequest(ctx: Context, cmd: Command, typed?: string): AclRequest {
  const { msg } = ctx;
  return {
    plugin: cmd.plugin,
    command: cmd.name,
    typed: typed ?? ctx.command?.typed ?? cmd.name,
    args: ctx.command?.args ?? "",
    senderAcl: msg.from.aclId,
    ...(msg.from.aclMask ? { senderMask: msg.from.aclMask } : {}),
    roomAcl: msg.room?.name,
    roomId: msg.room?.id,
    direct: msg.direct,
    isAdmin: ctx.isAdmin,
    adminOnly: cmd.adminOnly === true,
  };
}
