/**
 * What the bot's own commands are called, for the commands themselves and for every message
 * that tells a user what to type (web/ too: the login page's hints).
 */
import type { Config } from "../config/schema.ts";

/**
 * The word st2bot's StackStorm commands are named after (`st2help`, `st2session_start`,
 * `st2 execution`): `stackstorm.plugin_prefix`, or `st2` when it is empty (aliases are then
 * typed bare, but these commands keep their names).
 */
export function pluginPrefix(config: Config): string {
  return config.stackstorm.plugin_prefix || "st2";
}

/** How to log in, in words, for the messages that tell a user they must link their identity first. */
export function loginHint(config: Config): string {
  const p = `${config.bot.prefix}${pluginPrefix(config)}`;
  return `send me \`${p}session_start <shared word>\` in a direct message and follow the link`;
}
