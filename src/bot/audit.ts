/**
 * The audit trail: every command leaves exactly one info line saying who (the chat user and,
 * under client-side auth, the StackStorm user), where, the text as typed, the alias, the
 * execution or the refusal, and the outcome — what hubot and Errbot operators grep for. Commands
 * and middleware add what they learn with `note`; the router writes the line with `writeAudit`.
 */
import { logger, logs } from "../lib/log.ts";
import type { MatchOutcome } from "../st2/aliases/index.ts";
import type { Audit, Context } from "./types.ts";

const log = logger("bot.audit");
const trace = logger("bot.match");

/** Adds what a command learned (its alias, execution, outcome) to the message's audit record. */
export function note(ctx: Context, fields: Audit): void {
  // A new record each time, never one changed in place: a copied context keeps its own notes.
  // The first note is the caller's own fresh literal (callers pass literals, never keep them).
  ctx.audit = ctx.audit === undefined ? fields : { ...ctx.audit, ...fields };
}

/** The one audit line for a handled command. `typed` is the text after the prefix, `secret` hides the arguments. */
export function writeAudit(ctx: Context, typed: string, secret = false): void {
  const { msg } = ctx;
  const a = ctx.audit ?? {};
  const text = secret && ctx.command ? `${ctx.command.name} ***` : typed;
  const fields: Record<string, unknown> = { user: msg.from.aclId };
  if (a.st2User) fields.st2_user = a.st2User;
  fields.where = msg.room ? msg.room.name : "direct message";
  fields.text = text;
  if (a.alias) fields.alias = a.alias;
  if (a.execution) fields.execution = a.execution;
  fields.outcome = a.outcome ?? "ok";
  const ran = a.execution ? `execution ${a.execution}` : (a.outcome ?? "ok");
  log.info(`${msg.from.aclId} in ${fields.where as string}: "${text}" → ${a.alias ? `${a.alias}, ` : ""}${ran}`, fields);
}

/** Debug trace of the matcher's verdict and the aliases it weighed. */
export function traceMatch(text: string, outcome: MatchOutcome): void {
  // Per command: nothing is built while debug lines are dropped (reading `suggestions` would match again).
  if (!logs("debug")) return;
  const candidates =
    outcome.kind === "none" ? outcome.suggestions
    : outcome.kind === "ambiguous" ? outcome.candidates.map((c) => c.alias.ref)
    : outcome.kind === "match" ? [outcome.match.alias.ref]
    : outcome.kind === "too-long" ? []
    : [outcome.alias.ref];
  trace.debug(`match "${text}": ${outcome.kind}`, { candidates });
}
