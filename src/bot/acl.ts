/**
 * Errbot-compatible access control (errbot/core_plugins/acls.py), as pure functions.
 *
 * Rule lookup: the keys of `[access_controls]` are walked once, in file order, and the first
 * key that matches wins; its fields are laid over the default rule (Errbot's
 * `ACCESS_CONTROLS_DEFAULT.copy().update(rule)`). A key takes one of three forms:
 *
 * 1. `"alias:<glob>"` — matches the ref of the action alias the command runs
 *    (`alias:st2dm_apu.*`); only known once the st2 command has matched the text.
 * 2. a key containing a space — matches one canonical text, `<plugin_prefix> <command>`
 *    (`"st2 apu status*"`, err-stackstorm's documented example), however the bot was
 *    addressed (`!st2 x`, `st2bot: x`, `@st2bot x`, a mention; just `<command>` with an empty
 *    plugin_prefix). Whitespace is Python's, the set the alias matcher uses: runs of it
 *    become one space and the ends are stripped, in the text and in the key alike, so no
 *    spacing the matcher ignores (`\u0085`, `\x1c`) can step around a rule.
 * 3. anything else — Errbot's form, matched against `Plugin:command`; a key without `:`
 *    means `*:key` (`st2`, `St2:*`, `whoami`).
 *
 * Keys are case-insensitive globs; the values inside a rule (users, rooms, args) are
 * case-sensitive globs, as in Errbot. Globs follow Python's `fnmatch.fnmatchcase`.
 */
import type { AclRule } from "../config/schema.ts";
import { collapseSpace, PY_SPACE } from "../st2/aliases/words.ts";

export type { AclRule };

/** Everything the ACL needs to know about one command invocation. */
export interface AclRequest {
  /** Errbot plugin name of the command (`St2`, `Help`, `Utils`). */
  plugin: string;
  /** Registered command name (`st2`, `whoami`). */
  command: string;
  /** The canonical command text (see the module comment), e.g. `st2 apu status now`. */
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

/** Whether a rule key is an `alias:<glob>` key (case-insensitive, as every key). */
export function isAliasKey(key: string): boolean {
  return key.toLowerCase().startsWith(ALIAS_KEY);
}
/** One element of a compiled glob. */
type GlobToken = { k: "star" } | { k: "any" } | { k: "cp"; cp: number } | { k: "set"; neg: boolean; ranges: [number, number][] };
const globCache = new Map<string, GlobToken[]>();

/**
 * `fnmatch.fnmatchcase(text, pattern)` (or its lower-cased form when `caseSensitive` is false,
 * Errbot's `ciglob`): `*` any run, `?` one character, `[seq]`, `[!seq]`; everything else literal.
 *
 * Python compiles the pattern to a regex; here it is matched directly, with the classic
 * wildcard walk that returns only to the last `*`: time O(|text|·|pattern|) at worst,
 * whereas a backtracking regex for `*a*b*c*` is cubic in the text a chat user sends.
 */
export function glob(text: string, pattern: string, caseSensitive = true): boolean {
  const t = Array.from(caseSensitive ? text : text.toLowerCase(), (ch) => ch.codePointAt(0)!);
  const p = caseSensitive ? pattern : pattern.toLowerCase();
  let tokens = globCache.get(p);
  if (!tokens) {
    if (globCache.size > 1000) globCache.clear(); // patterns come from config; this never fills in practice
    tokens = compileGlob(p);
    globCache.set(p, tokens);
  }
  return matchGlob(t, tokens);
}

/** Errbot's `glob(text, patterns)`: a single pattern or a list, any match counts. */
export function globAny(text: string, patterns: string | readonly string[], caseSensitive = true): boolean {
  const list = typeof patterns === "string" ? [patterns] : patterns;
  return list.some((p) => glob(text, p, caseSensitive));
}

function matchGlob(t: readonly number[], p: readonly GlobToken[]): boolean {
  let ti = 0;
  let pi = 0;
  let starAt = -1;
  let resumeAt = 0;
  while (ti < t.length) {
    const tok = p[pi];
    if (tok && tok.k !== "star" && matchOne(tok, t[ti]!)) {
      ti++;
      pi++;
    } else if (tok?.k === "star") {
      starAt = pi++;
      resumeAt = ti;
    } else if (starAt >= 0) {
      // The last `*` takes one more character; earlier stars never need to change.
      pi = starAt + 1;
      ti = ++resumeAt;
    } else return false;
  }
  while (p[pi]?.k === "star") pi++;
  return pi === p.length;
}

function matchOne(tok: Exclude<GlobToken, { k: "star" }>, cp: number): boolean {
  if (tok.k === "any") return true;
  if (tok.k === "cp") return tok.cp === cp;
  const inside = tok.ranges.some(([lo, hi]) => lo <= cp && cp <= hi);
  return inside !== tok.neg;
}

/** Reads an fnmatch pattern as Python's `fnmatch.translate` does. */
function compileGlob(pattern: string): GlobToken[] {
  const chars = Array.from(pattern);
  const out: GlobToken[] = [];
  let i = 0;
  while (i < chars.length) {
    const c = chars[i++]!;
    if (c === "*") {
      if (out.at(-1)?.k !== "star") out.push({ k: "star" });
    } else if (c === "?") {
      out.push({ k: "any" });
    } else if (c === "[") {
      let j = i;
      if (chars[j] === "!") j++;
      if (chars[j] === "]") j++;
      while (j < chars.length && chars[j] !== "]") j++;
      if (j >= chars.length) {
        out.push({ k: "cp", cp: 0x5b }); // no closing bracket: a literal "["
      } else {
        out.push(charSet(chars.slice(i, j)));
        i = j + 1;
      }
    } else {
      out.push({ k: "cp", cp: c.codePointAt(0)! });
    }
  }
  return out;
}

/** One `[...]` set; ranges that run backwards are empty, as in Python. */
function charSet(body: string[]): GlobToken {
  const neg = body[0] === "!";
  const items = neg ? body.slice(1) : body;
  const ranges: [number, number][] = [];
  for (let k = 0; k < items.length; k++) {
    const lo = items[k]!.codePointAt(0)!;
    const hi = items[k + 2];
    if (items[k + 1] === "-" && hi !== undefined) {
      if (lo <= hi.codePointAt(0)!) ranges.push([lo, hi.codePointAt(0)!]);
      k += 2;
    } else {
      ranges.push([lo, lo]);
    }
  }
  return { k: "set", neg, ranges };
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
  let typed: string | undefined; // collapsed only when a key needs it (most configs have none)
  for (const [key, rule] of Object.entries(rules)) {
    if (isAliasKey(key)) {
      if (req.aliasRef === undefined) {
        if (awaitAlias) return { kind: "needs-alias" };
        continue;
      }
      if (glob(req.aliasRef, key.slice(ALIAS_KEY.length), false)) return { kind: "rule", key, rule };
    } else if (hasSpace(key)) {
      typed ??= collapseSpace(req.typed);
      if (glob(typed, collapseSpace(key), false)) return { kind: "rule", key, rule };
    } else if (glob(commandRef, key.includes(":") ? key : `*:${key}`, false)) {
      return { kind: "rule", key, rule };
    }
  }
  return { kind: "none" };
}

function hasSpace(key: string): boolean {
  for (const ch of key) if (PY_SPACE.has(ch)) return true;
  return false;
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
  // Arguments are judged in the same canonical spacing as rule keys (a deny must not be dodged by `\u0085`).
  if (checkArgs && (acl.allowargs !== undefined || acl.denyargs !== undefined)) {
    const args = collapseSpace(req.args);
    if (acl.allowargs !== undefined && !globAny(args, acl.allowargs)) return deny(DENIED.args);
    if (acl.denyargs !== undefined && globAny(args, acl.denyargs)) return deny(DENIED.args);
  }
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
