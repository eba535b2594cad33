/**
 * `!st2 tail <execution id>`: follow an execution's output live in this conversation (one
 * message edited in place where the service has edits, a sequence of messages elsewhere), and
 * the same after the ack of an alias that opts in (`extra.st2bot.live_output: true`) or of
 * every alias (`stackstorm.live_output = true`; an alias's own `false` still wins).
 * Ids are typed as for every execution command: whole, or a fragment of at least 6 digits that
 * starts or ends one recent execution (../executions/resolve.ts).
 */
import type { Config } from "../../config/schema.ts";
import type { ActionAlias } from "../../st2/aliases/types.ts";
import type { St2Client } from "../../st2/client.ts";
import type { Execution } from "../../st2/schemas.ts";
import { CommandError } from "../../lib/errors.ts";
import { logger } from "../../lib/log.ts";
import { recentExecutions, resolveId } from "../executions/resolve.ts";
import { shortId } from "../inquiries/ids.ts";
import { callStackStorm, type St2CommandDeps } from "../commands/st2.ts";
import type { Command, Context } from "../types.ts";
import type { Tails } from "./tails.ts";

const log = logger("bot.tail");

/** What the command needs besides the StackStorm commands' own deps. */
export interface TailDeps extends Pick<St2CommandDeps, "clientFor" | "expired"> {
  tails: Tails;
  config: Config;
  /** The alias that started an execution, when one of the loaded aliases did. */
  aliasOf(execution: Execution): ActionAlias | undefined;
  /** The ACL for running that alias; replies with the denial itself and returns false when refused. */
  mayRunAlias(ctx: Context, aliasRef: string): Promise<boolean>;
}

/** The `tail` subcommand of `st2` (ACL key `St2:tail`). */
export function tailCommand(deps: TailDeps, runName: string): Command {
  const usage = `${runName} tail <execution id>`;
  return {
    plugin: "St2",
    name: "tail",
    help: "Follow an execution's output live here",
    usage,
    run: async (ctx) => {
      const typed = (ctx.command?.args ?? "").trim();
      if (!typed || /\s/.test(typed)) throw new CommandError(`Usage: ${deps.config.bot.prefix}${usage}`);
      const as = await deps.clientFor(ctx);
      let recent: Execution[] | undefined;
      const listed = async () => (recent ??= await recentExecutions(as.client));
      const id = await callStackStorm(ctx, as, deps, () => resolveId(typed, listed));
      const execution = await callStackStorm(ctx, as, deps, () => as.client.getExecution(id));
      if (!as.personal && !(await mayWatch(ctx, execution, deps))) return;
      const shown = await shownId(id, listed);
      const outcome = deps.tails.follow(ctx, as.client, execution, shown, true);
      if (outcome.kind === "busy") throw new CommandError(`I am following ${outcome.max} executions already; try again once one of them has finished.`);
      if (outcome.kind === "already") return ctx.reply(`I am following ${shown} here already.`);
      // Where edits exist the live message itself answers; a sequence says what to expect.
      if (!outcome.edits) await ctx.reply(`Following ${execution.action?.ref ?? "execution"} ${shown}: new output every ${deps.config.stackstorm.live_output_interval} s.`);
    },
  };
}

/**
 * Under st2bot's own identity anyone could otherwise read any execution's output (outputs carry
 * what actions print, secrets included): only executions started through an alias, and only by
 * someone the ACL lets run that alias, as `!st2 execution` does. Under a person's own identity
 * StackStorm's RBAC decides.
 */
async function mayWatch(ctx: Context, execution: Execution, deps: TailDeps): Promise<boolean> {
  const alias = deps.aliasOf(execution);
  if (alias) return deps.mayRunAlias(ctx, alias.ref);
  throw new CommandError(
    `I follow only executions started through one of my action aliases here, since I read as st2bot's own StackStorm identity; ` +
      `${execution.id} (${execution.action?.ref ?? "?"}) was not.`,
  );
}

/** Whether this alias's executions are followed after the ack. */
export function followsLive(config: Config, alias: ActionAlias): boolean {
  const own = (alias.extra as { st2bot?: { live_output?: unknown } } | undefined)?.st2bot?.live_output;
  return typeof own === "boolean" ? own : config.stackstorm.live_output;
}

/**
 * After an ack: follow the new execution. Never fails the command (the action runs anyway);
 * a refusal (too many followed) is logged.
 */
export async function followAfterAck(tails: Tails, ctx: Context, client: St2Client, execution: Execution): Promise<void> {
  let recent: Execution[] | undefined;
  const shown = await shownId(execution.id, async () => (recent ??= await recentExecutions(client)));
  const outcome = tails.follow(ctx, client, execution, shown, false);
  if (outcome.kind === "busy") log.warn("not following an execution live: too many followed already", { id: execution.id, max: outcome.max });
}

/** The shortest ending of `id` unique among the recent executions; the whole id when they cannot be listed. */
async function shownId(id: string, recent: () => Promise<Execution[]>): Promise<string> {
  try {
    return shortId(id, (await recent()).map((e) => e.id));
  } catch {
    return id;
  }
}
