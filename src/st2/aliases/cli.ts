/**
 * `st2bot alias …`: try the alias engine offline, without StackStorm or chat.
 *
 *   st2bot alias parse --format F --command C
 *   st2bot alias match --aliases PATH... [--strict] [--quiet] [--] COMMAND
 *   st2bot alias lint PATH... [--format text|json|github] [--strict]   (lintcli.ts)
 *
 * Exit codes: 0 success, 1 the command does not match (StackStorm's message on stderr),
 * 2 bad usage, an invalid format or no aliases to match against.
 */
import { existsSync } from "node:fs";
import { AliasParseError, FormatError, parseFormat } from "./format.ts";
import { AliasIndex } from "./index.ts";
import { loadAliasFiles } from "./load.ts";
import { LINT_HELP } from "./lintcli.ts";

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export const ALIAS_HELP = `usage:
  st2bot alias parse --format FORMAT --command COMMAND
      Parse COMMAND with one alias format, as StackStorm's parser does; prints the
      parameters as JSON.
  st2bot alias match --aliases PATH... [--strict] -- COMMAND
      Load action aliases from YAML files or folders (a pack's aliases/ folder, or a
      folder of packs) and show which alias and representation COMMAND runs. COMMAND
      starts after -- or, without --, at the first word after the paths that is not a
      file or folder: st2bot alias match --aliases packs/aws aws ec2 get
      --strict  refuse every ambiguity, as StackStorm does; by default, when several
                representations of one alias match, the most specific one is chosen.
      --quiet   (-q) do not print warnings about files or formats that could not be loaded
${LINT_HELP}
exit codes: 0 matched (lint: no errors), 1 no match or ambiguous (lint: errors found),
2 usage error or invalid format
`;

/** Runs `st2bot alias <argv>`; returns the exit code. */
export async function aliasCli(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined) {
    io.stderr(ALIAS_HELP);
    return 2;
  }
  if (sub === "--help" || sub === "-h" || sub === "help") return help(io);
  if (sub === "parse") return parseCommand(rest, io);
  if (sub === "match") return matchCommand(rest, io);
  if (sub === "lint") return (await import("./lintcli.ts")).lintCommand(rest, io);
  io.stderr(`st2bot alias: unknown subcommand "${sub}"\n\n${ALIAS_HELP}`);
  return 2;
}

class UsageError extends Error {}

/** `--name value` or `--name=value`. */
function takeOption(args: string[], i: number, name: string): { value: string; next: number } | null {
  const arg = args[i] ?? "";
  if (arg.startsWith(`${name}=`)) return { value: arg.slice(name.length + 1), next: i + 1 };
  if (arg !== name) return null;
  const value = args[i + 1];
  if (value === undefined) throw new UsageError(`${name} needs a value`);
  return { value, next: i + 2 };
}

function parseCommand(args: string[], io: CliIo): number {
  let format: string | undefined;
  let command: string | undefined;
  try {
    for (let i = 0; i < args.length; ) {
      const f = takeOption(args, i, "--format");
      const c = f ? null : takeOption(args, i, "--command");
      if (f) [format, i] = [f.value, f.next];
      else if (c) [command, i] = [c.value, c.next];
      else if (args[i] === "--help" || args[i] === "-h") return help(io);
      else throw new UsageError(`unexpected argument "${args[i]}"`);
    }
    if (format === undefined || command === undefined) throw new UsageError("parse needs --format and --command");
  } catch (err) {
    return usage(io, err);
  }
  try {
    io.stdout(`${JSON.stringify(parseFormat(format, command))}\n`);
    return 0;
  } catch (err) {
    if (err instanceof AliasParseError) {
      io.stderr(`${err.message}\n`);
      return 1;
    }
    if (err instanceof FormatError) {
      io.stderr(`invalid format: ${err.reason}\n`);
      return 2;
    }
    throw err;
  }
}

interface MatchArgs {
  paths: string[];
  strict: boolean;
  quiet: boolean;
  command: string;
}

function readMatchArgs(args: string[]): MatchArgs | "help" {
  const paths: string[] = [];
  let strict = false;
  let quiet = false;
  let command: string | undefined;
  let inPaths = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "--") {
      command = args.slice(i + 1).join(" ");
      break;
    }
    if (arg === "--help" || arg === "-h") return "help";
    if (arg === "--strict") strict = true;
    else if (arg === "--quiet" || arg === "-q") quiet = true;
    else if (arg === "--aliases") inPaths = true;
    else if (arg.startsWith("--aliases=")) {
      paths.push(arg.slice("--aliases=".length));
      inPaths = true;
    } else if (arg.startsWith("-")) throw new UsageError(`unknown option "${arg}"`);
    else if (inPaths && (paths.length === 0 || existsSync(arg))) paths.push(arg);
    else if (inPaths) {
      // The first word after the paths that is not a file or folder starts the command.
      command = args.slice(i).join(" ");
      break;
    } else throw new UsageError(`unexpected argument "${arg}" (the command goes after --aliases PATH...)`);
  }
  if (paths.length === 0) throw new UsageError("match needs --aliases PATH...");
  if (command === undefined) throw new UsageError("match needs the command after the alias paths");
  return { paths, strict, quiet, command };
}

async function matchCommand(args: string[], io: CliIo): Promise<number> {
  let parsed: MatchArgs | "help";
  try {
    parsed = readMatchArgs(args);
  } catch (err) {
    return usage(io, err);
  }
  if (parsed === "help") return help(io);
  const loaded = await loadAliasFiles(parsed.paths);
  if (!parsed.quiet) for (const e of loaded.errors) io.stderr(`warning: ${e.file}: ${e.reason}\n`);
  if (loaded.aliases.length === 0) {
    io.stderr(`no action aliases found in ${parsed.paths.join(", ")}\n`);
    return 2;
  }
  const index = new AliasIndex(loaded.aliases);
  if (!parsed.quiet) for (const p of index.problems) io.stderr(`warning: ${p.ref}: format "${p.format}" skipped: ${p.reason}\n`);
  return report(index, parsed, io);
}

function report(index: AliasIndex, args: MatchArgs, io: CliIo): number {
  const outcome = index.match(args.command, { strict: args.strict });
  switch (outcome.kind) {
    case "match": {
      const { match } = outcome;
      const out: Record<string, unknown> = { ref: match.alias.ref, representation: match.representation, params: match.params };
      if (match.chosenAmong) out["chosen_among"] = match.chosenAmong;
      io.stdout(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    case "multiple": {
      const out = { ref: outcome.alias.ref, representation: outcome.representation, executions: outcome.hits };
      io.stdout(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    case "none": {
      const hints = outcome.suggestions;
      io.stderr(`${outcome.message}\n${hints.length ? `Did you mean:\n${hints.map((d) => `  ${d}\n`).join("")}` : ""}`);
      return 1;
    }
    case "too-long": {
      io.stderr(`${outcome.message}\n`);
      return 1;
    }
    case "ambiguous": {
      const lines = outcome.candidates.map((c) => `  ${c.display}  (${c.alias.ref})\n`).join("");
      io.stderr(`${outcome.message}\nCandidates:\n${lines}`);
      return 1;
    }
  }
}

function help(io: CliIo): number {
  io.stdout(ALIAS_HELP);
  return 0;
}

function usage(io: CliIo, err: unknown): number {
  if (!(err instanceof UsageError)) throw err;
  io.stderr(`st2bot alias: ${err.message}\n\n${ALIAS_HELP}`);
  return 2;
}
