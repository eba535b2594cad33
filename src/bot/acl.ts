/**
 * Errbot-compatible access control (errbot/core_plugins/acls.py), as pure functions.
 *
 * Rule lookup: the keys of `[access_controls]` are walked once, in file order, and the first
 * key that matches wins; its fields are laid over the default rule (Errbot's
 * `ACCESS_CONTROLS_DEFAULT.copy().update(rule)`). A key takes one of three forms:
 *
 * 1. `"alias:<glob>"` — matches the ref of the action alias the command runs
 *    (`alias:st2dm_apu.*`); only known once the st2 command has matched the text.
 * 2. a key containing a space — matches the command text as typed after the prefix, with
 *    runs of whitespace collapsed (`"st2 apu status*"`, err-stackstorm's documented example).
 * 3. anything else — Errbot's form, matched against `Plugin:command`; a key without `:`
 *    means `*:key` (`st2`, `St2:*`, `whoami`).
 *
 * Keys are case-insensitive globs; the values inside a rule (users, rooms, args) are
 * case-sensitive globs, as in Errbot. Globs follow Python's `fnmatch.fnmatchcase`.
 */
import type { AclRule } from "../config/schema.ts";

export type { AclRule };

/** Everything the ACL needs to know about one command invocation. */
export interface AclRequest {
  /** Errbot plugin name of the command (`St2`, `Help`, `Utils`). */
  plugin: string;
  /** Registered command name (`st2`, `whoami`). */
  command: string;
  /** The text after the bot prefix, e.g. `st2 apu status now`. */
  typed: string;
  /** The ref of the action alias the command runs, once known (`st2dm_apu.apu_status`). */
  aliasRef?: string;
  /** The command's arguments (`apu status now` for `!st2 apu status now`). */
  args: string;
  /** The sender's ACL attribute (`Identity.aclId`, what `!whoami` shows as `aclattr`). */
  senderAcl: string;
  /** IRC's `nick!user@host` (`Identity.aclMask`); user globs containing `!` match it. */
  senderMask?: string;
  /** The room's ACL attribute (its name, e.g. `#ops`); absent in a direct message. */
  roomAcl?: string;
  /** The room's service id (Slack `C0123`); room rules also accept it. */
  roomId?: string;
  direct: boolean;
  /** The router's verdict on BOT_ADMINS; `checkAccess` also matches `admins` itself. */
  isAdmin: boolean;
  adminOnly: boolean;
}

export type AclVerdict = { allowed: true } | { allowed: false; message: string };

/** Errbot's denial messages, word for word. */
export const DENIED = {
  user: "You're not allowed to access this command from this user",
  args: "You're not allowed to access this command using the provided arguments",
  muc: "You're not allowed to access this command from a chatroom",
  room: "You're not allowed to access this command from this room",
  private: "You're not allowed to access this command via private message to me",
  admin: "This command requires bot-admin privileges",
  adminDirect: "This command may only be issued through a direct message",
} as const;

const ALIAS_KEY = "alias:";
const regexCache = new Map<string, RegExp>();

/**
 * `fnmatch.fnmatchcase(text, pattern)` (or its lower-cased form when `caseSensitive` is false,
 * Errbot's `ciglob`): `*` any run, `?` one character, `[seq]`, `[!seq]`; everything else literal.
 */
export function glob(text: string, pattern: string, caseSensitive = true): boolean {
  const t = caseSensitive ? text : text.toLowerCase();
  const p = caseSensitive ? pattern : pattern.toLowerCase();
  let re = regexCache.get(p);
  if (!re) {
    if (regexCache.size > 1000) regexCache.clear(); // patterns come from config; this never fills in practice
    re = new RegExp(`^${translate(p)}$`, "su");
    regexCache.set(p, re);
  }
  return re.test(t);
}

/** Errbot's `glob(text, patterns)`: a single pattern or a list, any match counts. */
export function globAny(text: string, patterns: string | readonly string[], caseSensitive = true): boolean {
  const list = typeof patterns === "string" ? [patterns] : patterns;
  return list.some((p) => glob(text, p, caseSensitive));
}

/** Translates an fnmatch pattern to a regular-expression body, as Python's `fnmatch.translate`. */
function translate(pattern: string): string {
  const chars = Array.from(pattern);
  let out = "";
  let i = 0;
  while (i < chars.length) {
    const c = chars[i++]!;
    if (c === "*") {
      if (!out.endsWith("[^]*")) out += "[^]*";
    } else if (c === "?") {
      out += "[^]";
    } else if (c === "[") {
      let j = i;
      if (chars[j] === "!") j++;
      if (chars[j] === "]") j++;
      while (j < chars.length && chars[j] !== "]") j++;
      if (j >= chars.length) {
        out += "\\["; // no closing bracket: a literal "["
      } else {
        out += charClass(chars.slice(i, j));
        i = j + 1;
      }
    } else {
      out += /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
    }
  }
  return out;
}

/** One `[...]` set; ranges that run backwards are empty, as in Python. */
function charClass(body: string[]): string {
  const negate = body[0] === "!";
  const items = negate ? body.slice(1) : body;
  const esc = (ch: string) => (/[\\\]\[^-]/.test(ch) ? `\\${ch}` : ch);
  let cls = "";
  for (let k = 0; k < items.length; k++) {
    const lo = items[k]!;
    const hi = items[k + 2];
    if (items[k + 1] === "-" && hi !== undefined) {
      if (lo.codePointAt(0)! <= hi.codePointAt(0)!) cls += `${esc(lo)}-${esc(hi)}`;
      k += 2;
    } else {
      cls += esc(lo);
    }
  }
  if (cls === "") return negate ? "[^]" : "(?!)";
  return negate ? `[^${cls}]` : `[${cls}]`;
}

/**
 * Whether user globs match the sender: a glob containing `!` is an IRC mask pattern
 * (`alice!*@trusted.host`) and matches only `senderMask`; every other glob matches the ACL
 * attribute. Nicks cannot contain `!`, so the two never overlap.
 */
export function senderMatches(senderAcl: string, senderMask: string | undefined, patterns: string | readonly string[]): boolean {
  const list = typeof patterns === "string" ? [patterns] : patterns;
  return list.some((p) => (p.includes("!") ? senderMask !== undefined && glob(senderMask, p) : glob(senderAcl, p)));
}

/** Whether the sender matches one of BOT_ADMINS (case-sensitive globs; `!` globs on the IRC mask). */
export function isAdmin(senderAcl: string, admins: readonly string[], senderMask?: string): boolean {
  return senderMatches(senderAcl, senderMask, admins);
}

export type RuleLookup =
  | { kind: "rule"; key: string; rule: AclRule }
  | { kind: "none" }
  /** An `alias:` key came first and the alias is not known yet: decide after matching. */
  | { kind: "needs-alias" };

type RuleTarget = Pick<AclRequest, "plugin" | "command" | "typed" | "aliasRef">;

/**
 * The one ordered walk over the rule keys (see the module comment). With `awaitAlias`, an
 * `alias:` key met before any match while `aliasRef` is unknown yields `needs-alias`;
 * without it such keys are skipped.
 */
export function findRule(req: RuleTarget, rules: Record<string, AclRule>, awaitAlias = false): RuleLookup {
  const commandRef = `${req.plugin}:${req.command}`;
  const typed = req.typed.trim().replace(/\s+/g, " ");
  for (const [key, rule] of Object.entries(rules)) {
    if (key.toLowerCase().startsWith(ALIAS_KEY)) {
      if (req.aliasRef === undefined) {
        if (awaitAlias) return { kind: "needs-alias" };
        continue;
      }
      if (glob(req.aliasRef, key.slice(ALIAS_KEY.length), false)) return { kind: "rule", key, rule };
    } else if (/\s/.test(key)) {
      if (glob(typed, key.trim().replace(/\s+/g, " "), false)) return { kind: "rule", key, rule };
    } else if (glob(commandRef, key.includes(":") ? key : `*:${key}`, false)) {
      return { kind: "rule", key, rule };
    }
  }
  return { kind: "none" };
}

/** The rule that applies: the matched rule's fields laid over the defaults. */
export function effectiveRule(req: RuleTarget, rules: Record<string, AclRule>, defaults: AclRule | undefined): AclRule {
  const found = findRule(req, rules);
  const merged: Record<string, unknown> = { ...defaults };
  // Errbot's dict.update: only the fields the rule sets replace the default's.
  if (found.kind === "rule") for (const [k, v] of Object.entries(found.rule)) if (v !== undefined) merged[k] = v;
  return merged as AclRule;
}

/**
 * Errbot's verdict, checks in its order: arguments, users, then (in a room) allowmuc and
 * rooms or (in private) allowprivate, then admin-only commands, which non-admins may never
 * run and admins may run in a room only where the rule sets `allowmuc = true`.
 */
export function checkAccess(
  req: AclRequest,
  rules: Record<string, AclRule>,
  defaults: AclRule | undefined,
  admins: readonly string[],
): AclVerdict {
  return evaluate(req, effectiveRule(req, rules, defaults), admins, true);
}

/**
 * Whether a command or alias should be listed to this person (`hide_restricted_commands`):
 * the same checks as `checkAccess` without the argument rules, since help has no arguments
 * to judge (Errbot's dry run passes none).
 */
export function visibleTo(
  req: Omit<AclRequest, "args">,
  rules: Record<string, AclRule>,
  defaults: AclRule | undefined,
  admins: readonly string[],
): boolean {
  return evaluate({ ...req, args: "" }, effectiveRule(req, rules, defaults), admins, false).allowed;
}

function evaluate(req: AclRequest, acl: AclRule, admins: readonly string[], checkArgs: boolean): AclVerdict {
  const deny = (message: string): AclVerdict => ({ allowed: false, message });
  const usr = (patterns: string | string[]) => senderMatches(req.senderAcl, req.senderMask, patterns);
  if (checkArgs && acl.allowargs !== undefined && !globAny(req.args, acl.allowargs)) return deny(DENIED.args);
  if (checkArgs && acl.denyargs !== undefined && globAny(req.args, acl.denyargs)) return deny(DENIED.args);
  if (acl.allowusers !== undefined && !usr(acl.allowusers)) return deny(DENIED.user);
  if (acl.denyusers !== undefined && usr(acl.denyusers)) return deny(DENIED.user);
  if (!req.direct) {
    const rooms = [req.roomAcl ?? "", ...(req.roomId && req.roomId !== req.roomAcl ? [req.roomId] : [])];
    const roomMatches = (patterns: string | string[]) => rooms.some((r) => globAny(r, patterns));
    if (acl.allowmuc === false) return deny(DENIED.muc);
    if (acl.allowrooms !== undefined && !roomMatches(acl.allowrooms)) return deny(DENIED.room);
    if (acl.denyrooms !== undefined && roomMatches(acl.denyrooms)) return deny(DENIED.room);
  } else if (acl.allowprivate === false) {
    return deny(DENIED.private);
  }
  if (req.adminOnly) {
    if (!req.isAdmin && !isAdmin(req.senderAcl, admins, req.senderMask)) return deny(DENIED.admin);
    // Errbot: admin commands are DM-only unless the rule explicitly sets allowmuc = true.
    if (!req.direct && acl.allowmuc !== true) return deny(DENIED.adminDirect);
  }
  return { allowed: true };
}
