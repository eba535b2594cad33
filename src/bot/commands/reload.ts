/** `st2reload`: load the action aliases from StackStorm now, instead of waiting for the timer. */
import type { Config } from "../../config/schema.ts";
import type { AliasCache } from "../../st2/aliascache.ts";
import { CommandError } from "../../lib/errors.ts";
import { redact } from "../../lib/log.ts";
import type { Command } from "../types.ts";
import { pluginPrefix } from "../names.ts";

/** `<pp>reload` (admins): refreshes the alias cache; on failure the last good set stays in use. */
export function reloadCommand(config: Config, aliases: AliasCache): Command {
  return {
    plugin: "St2",
    name: `${pluginPrefix(config)}reload`,
    adminOnly: true,
    help: "Reload the action aliases from StackStorm now (admins)",
    run: async (ctx) => {
      if (!(await aliases.refresh())) {
        throw new CommandError(`Reloading failed (${aliases.lastError ? redact(aliases.lastError) : "unknown error"}); the last ${aliases.index.size} aliases stay in use.`);
      }
      await ctx.reply(`Reloaded ${aliases.index.size} action aliases from StackStorm.`);
    },
  };
}
