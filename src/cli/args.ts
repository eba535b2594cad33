/**
 * Argument parsing shared by the subcommands: one usage text per command, `-h/--help`
 * answered the same everywhere, and an option-looking word never taken as a file name.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { describeError } from "../lib/errors.ts";

/** Bad usage of a subcommand: main prints the message and the command's usage, exit 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command: string,
  ) {
    super(message);
  }
}

/** The usage of every subcommand, printed by `st2bot <command> --help`. */
export const USAGE: Record<string, string> = {
  run: `usage: st2bot run [-c FILE]
  Run the bot. FILE defaults to ./st2bot.toml when it exists, else defaults + environment.
  Refuses to start without a StackStorm credential for the bot.
  -c, --config FILE   the configuration file
`,
  demo: `usage: st2bot demo
  A StackStorm emulator with sample aliases and the terminal chat; nothing else needed.
`,
  doctor: `usage: st2bot doctor [-c FILE]
  Check the configuration, the chat settings, StackStorm (URLs, TLS, credential, stream),
  the alias formats and the notify rule. Exit 1 when any check failed.
  -c, --config FILE   the configuration file
`,
  init: `usage: st2bot init [FILE]
  Write a commented configuration template to FILE (default ./st2bot.toml); never overwrites.
`,
  rule: `usage: st2bot rule [-c FILE]
  Print the StackStorm notify rule that sends results to this bot's route.
  -c, --config FILE   the configuration file
`,
  secrets: `usage: st2bot secrets rotate-key [-c FILE] [--new-key-file FILE]
  Re-encrypt stored user credentials with a new key (from --new-key-file, or
  $ST2BOT_SECRETS_KEY_NEW). Run it while st2bot is stopped.
  -c, --config FILE       the configuration file
  --new-key-file FILE     the new key (base64 of 32 bytes), a file only the owner can read
`,
  version: `usage: st2bot version | st2bot --version
  Print the version.
`,
};

/** True when `-h`/`--help` appears before a `--` (after it, words belong to a chat command). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === "--") return false;
    if (arg === "-h" || arg === "--help") return true;
  }
  return false;
}

/**
 * Parses `argv` for `command` with node's strict parser; at most `maxPositionals` positionals,
 * none of which may look like an option. Every problem is a UsageError.
 */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig["options"]>>(
  command: string,
  argv: string[],
  options: O,
  maxPositionals = 0,
) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(describeError(err).replace(/\. To specify a positional argument.*$/s, ""), command);
  }
  for (const p of parsed.positionals) {
    if (p.startsWith("-")) throw new UsageError(`"${p}" looks like an option, not a file name (write ./${p} for a file of that name)`, command);
  }
  if (parsed.positionals.length > maxPositionals) {
    const extra = parsed.positionals[maxPositionals]!;
    throw new UsageError(`unexpected argument "${extra}"`, command);
  }
  return parsed;
}
