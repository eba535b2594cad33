/**
 * Managing executions from chat, as subcommands of the st2 command (`!st2 executions`,
 * `!st2 execution <id>`, `!st2 cancel <id>`, `!st2 rerun <id> [key=value ...]`). Each is a
 * command of its own for the ACL (`St2:executions`, `St2:execution`, `St2:cancel`,
 * `St2:rerun`) and calls StackStorm as the caller: their own identity under client-side auth.
 *
 * Under standalone auth every call carries the bot's identity, which may see and run
 * anything. So there all four see and act on only executions started through an action alias
 * this bot serves, and `execution`, `cancel` and `rerun` only for people the ACL lets run that
 * alias (its `alias:` rules): a re-run with new parameters is then no more than running the
 * alias with trailing `key=value` pairs, and no one reads a result they could not have caused.
 * Under client-side auth StackStorm's RBAC judges the caller; a known alias's rules still
 * apply to `cancel` and `rerun`.
 */
import type { ActionAlias } from "../../st2/aliases/types.ts";
import { cancelExecution, listExecutions, rerunExecution } from "../../st2/executions.ts";
import type { Execution } from "../../st2/schemas.ts";
import { CommandError } from "../../lib/errors.ts";
import { callStackStorm, type St2CommandDeps } from "../commands/st2.ts";
import { needsTwoFactor } from "../twofactor.ts";
import type { Command, Context } from "../types.ts";
import { parseListArgs, parsePairs, splitId } from "./args.ts";
import { shortId } from "../inquiries/ids.ts";
import { listingIds, RECENT, recentExecutions, resolveId } from "./resolve.ts";
import { renderExecution, renderList } from "./render.ts";
import { pluginPrefix } from "../names.ts";

/** What the execution commands need beyond the st2 command's client and expiry handling. */
export interface ExecutionCommandDeps extends Pick<St2CommandDeps, "config" | "clientFor" | "expired"> {
  /** The alias this bot serves that started `execution` (its `context.action_alias_ref`), if any. */
  aliasOf(execution: Execution): ActionAlias | undefined;
  /** The ACL's verdict on running `aliasRef`; replies with the denial itself and returns false when refused. */
  mayRunAlias(ctx: Context, aliasRef: string): Promise<boolean>;
}

type As = Awaited<ReturnType<St2CommandDeps["clientFor"]>>;

/** The four subcommands, named as `ST2BOT_SUBCOMMANDS` (st2/aliases/reserved.ts); `lead` is how the st2 command is typed. */
export function executionCommands(deps: ExecutionCommandDeps, lead: string): Command[] {
  const typed = `${deps.config.bot.prefix}${lead}`;
  const sub = (name: string, usage: string, help: string, run: (ctx: Context, as: As, args: string) => Promise<void>): Command => ({
    plugin: "St2",
    name,
    usage: `${lead} ${usage}`,
    help,
    run: async (ctx) => run(ctx, await deps.clientFor(ctx), ctx.command?.args ?? ""),
  });
  return [
    sub("executions", "executions [--mine] [--action ref] [--status s] [--limit N]", "List recent StackStorm executions", (ctx, as, args) => list(ctx, as, args, deps)),
    sub("execution", "execution <id>", "Show one StackStorm execution: status, who, parameters, result, link", (ctx, as, args) =>
      show(ctx, as, args, deps, `${typed} execution <id>`)),
    sub("cancel", "cancel <id>", "Cancel a StackStorm execution", (ctx, as, args) => cancel(ctx, as, args, deps, `${typed} cancel <id>`)),
    sub("rerun", "rerun <id> [key=value ...]", "Run a StackStorm execution again, optionally with other parameters", (ctx, as, args) =>
      rerun(ctx, as, args, deps, `${typed} rerun <id> [key=value ...]`)),
  ];
}

async function list(ctx: Context, as: As, args: string, deps: ExecutionCommandDeps): Promise<void> {
  const q = parseListArgs(args);
  const call = <T>(fn: () => Promise<T>) => callStackStorm(ctx, as, deps, fn);
  let user: string | undefined;
  if (q.mine && as.personal) {
    user = (await call(() => as.client.whoami())).username;
    // Without a name the filter would be dropped and everyone's runs shown as "yours".
    if (!user) throw new CommandError("StackStorm did not say which user your login is, so I cannot pick out your executions.");
  }
  // Under the bot's identity only this bot's alias executions are listed (fetched as a page and
  // filtered here), and "mine" is the chat user such an execution names.
  const shared = !as.personal;
  const found = await call(() =>
    listExecutions(as.client, { action: q.action, status: q.status, user, topLevel: true, limit: shared ? RECENT : q.limit, withoutResult: true }),
  );
  const ours = shared ? found.filter((e) => deps.aliasOf(e) && (!q.mine || e.context?.api_user === ctx.msg.from.st2User)) : found;
  const shown = ours.slice(0, q.limit);
  const recent = await call(() => recentExecutions(as.client));
  const what = [q.mine && "yours", q.action && `of ${q.action}`, q.status && `${q.status}`].filter(Boolean).join(", ");
  const heading = `${shown.length} most recent StackStorm execution${shown.length === 1 ? "" : "s"}${what ? ` (${what})` : ""}`;
  const empty = `No recent StackStorm executions${what ? ` (${what})` : ""}`;
  await ctx.reply(renderList(shown, listingIds(shown, recent), heading, empty, ctx.chat.maxMessageLength));
}

/** Resolves the typed id and fetches the execution, as the caller. */
async function fetchTyped(ctx: Context, as: As, typed: string, deps: ExecutionCommandDeps): Promise<Execution> {
  return callStackStorm(ctx, as, deps, async () => as.client.getExecution(await resolveId(typed, () => recentExecutions(as.client))));
}

async function show(ctx: Context, as: As, args: string, deps: ExecutionCommandDeps, usage: string): Promise<void> {
  const { id, rest } = splitId(args, usage);
  if (rest) throw new CommandError(`Usage: ${usage}`);
  const ex = await fetchTyped(ctx, as, id, deps);
  if (!as.personal && !(await mayAct(ctx, as, ex, deps, "show"))) return;
  await ctx.reply(renderExecution(ex, ctx.chat.maxMessageLength, webUrl(deps, ex.id)));
}

/**
 * The checks before cancelling or re-running `ex` (see the file comment); false when the ACL
 * refused (it has replied), throws when the bot's identity may not be used for it.
 */
async function mayAct(ctx: Context, as: As, ex: Execution, deps: ExecutionCommandDeps, verb: string): Promise<boolean> {
  const alias = deps.aliasOf(ex);
  if (alias) return deps.mayRunAlias(ctx, alias.ref);
  if (as.personal) return true;
  throw new CommandError(
    `I ${verb} only executions started through one of my action aliases here, since I act as st2bot's own StackStorm identity; ` +
      `${ex.id} (${ex.action?.ref ?? "?"}) was not.`,
  );
}

async function cancel(ctx: Context, as: As, args: string, deps: ExecutionCommandDeps, usage: string): Promise<void> {
  const { id, rest } = splitId(args, usage);
  if (rest) throw new CommandError(`Usage: ${usage}`);
  const ex = await fetchTyped(ctx, as, id, deps);
  if (!(await mayAct(ctx, as, ex, deps, "cancel"))) return;
  const outcome = await callStackStorm(ctx, as, deps, () => cancelExecution(as.client, ex.id));
  if (outcome.kind === "refused") throw new CommandError(`StackStorm did not cancel ${ex.id} (${ex.action?.ref ?? "?"}): ${outcome.reason}`);
  const status = outcome.execution.status ?? "canceling";
  await ctx.reply(`${status === "canceled" ? "Cancelled" : "Cancelling"} ${ex.action?.ref ?? "the execution"} (${ex.id}): status ${status}.`);
}

async function rerun(ctx: Context, as: As, args: string, deps: ExecutionCommandDeps, usage: string): Promise<void> {
  const { id, rest } = splitId(args, usage);
  const parameters = parsePairs(rest);
  const ex = await fetchTyped(ctx, as, id, deps);
  if (!(await mayAct(ctx, as, ex, deps, "re-run"))) return;
  const alias = deps.aliasOf(ex);
  // A re-run must not be a way around the confirmation the alias itself demands.
  if (alias && needsTwoFactor(deps.config, alias)) {
    throw new CommandError(`${alias.ref} needs two-factor confirmation, so I do not re-run it; run it again with its command to be asked to confirm.`);
  }
  const again = await callStackStorm(ctx, as, deps, () => rerunExecution(as.client, ex.id, parameters));
  const changed = Object.keys(parameters).length ? ` with ${Object.entries(parameters).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ")}` : "";
  const url = again.web_url ?? webUrl(deps, again.id);
  const recent = await callStackStorm(ctx, as, deps, () => recentExecutions(as.client));
  const short = shortId(again.id, recent.map((e) => e.id));
  await ctx.reply(
    `Running ${ex.action?.ref ?? "it"} again${changed}: execution ${again.id} (re-run of ${ex.id}). ` +
      `Type ${deps.config.bot.prefix}${pluginPrefix(deps.config)} execution ${short} for its result` +
      `${url ? `, or see ${url}` : ""}.`,
  );
}

function webUrl(deps: Pick<ExecutionCommandDeps, "config">, id: string): string | undefined {
  const base = deps.config.stackstorm.webui_url;
  return base ? `${base.replace(/\/+$/, "")}/#/history/${id}/general` : undefined;
}
