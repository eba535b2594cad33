/**
 * `st2bot alias lint PATH... [--format text|json|github] [--strict]`: the findings of
 * lint.ts, as lines for people, JSON for tools, or GitHub Actions workflow commands
 * (`::error file=…,line=…::…`) that annotate the pull request.
 *
 * Exit codes: 0 no errors (warnings allowed unless --strict), 1 errors (or warnings under
 * --strict), 2 bad usage or no aliases found.
 */
import { isAbsolute, relative, resolve } from "node:path";
import type { CliIo } from "./cli.ts";
import { lintAliases, type Finding } from "./lint.ts";
import { readLintInput } from "./lintload.ts";

export const LINT_HELP = `  st2bot alias lint PATH... [--format text|json|github] [--strict]
      Check action aliases for pack CI (pack folders, folders of packs, or alias files):
      formats StackStorm rejects or st2bot cannot run, representations never chosen,
      commands two aliases match (with an example), parameters the action does not
      declare (when the pack's actions/*.yaml are there), missing descriptions.
      --format  text (default), json, or github (GitHub Actions annotations)
      --strict  warnings fail too (exit 1)
`;

type OutputFormat = "text" | "json" | "github";

/** Runs the lint; returns the exit code. */
export async function lintCommand(args: string[], io: CliIo): Promise<number> {
  const paths: string[] = [];
  let format: OutputFormat = "text";
  let strict = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--help" || arg === "-h") {
      io.stdout(`usage:\n${LINT_HELP}`);
      return 0;
    }
    if (arg === "--strict") strict = true;
    else if (arg === "--format" || arg.startsWith("--format=")) {
      const value = arg === "--format" ? args[++i] : arg.slice("--format=".length);
      if (value !== "text" && value !== "json" && value !== "github") return usage(io, `--format takes text, json or github`);
      format = value;
    } else if (arg === "--") paths.push(...args.slice(i + 1).splice(0));
    else if (arg.startsWith("-")) return usage(io, `unknown option "${arg}"`);
    else paths.push(arg);
    if (arg === "--") break;
  }
  if (paths.length === 0) return usage(io, "lint needs at least one PATH");
  const input = await readLintInput(paths);
  if (input.aliases.length === 0 && input.errors.length === 0) {
    io.stderr(`no action aliases found in ${paths.join(", ")}\n`);
    return 2;
  }
  const findings = lintAliases(input);
  io.stdout(render(findings, format, input.aliases.length));
  const errors = findings.filter((f) => f.severity === "error").length;
  return errors > 0 || (strict && findings.length > 0) ? 1 : 0;
}

function render(findings: Finding[], format: OutputFormat, aliases: number): string {
  if (format === "json") return `${JSON.stringify(findings.map((f) => ({ ...f, file: shown(f.file) })), null, 2)}\n`;
  if (format === "github") return findings.map(annotation).join("");
  const lines = findings.map((f) => `${shown(f.file)}:${f.line}: ${f.severity}: ${f.message} [${f.rule}]\n`);
  const errors = findings.filter((f) => f.severity === "error").length;
  const n = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;
  return `${lines.join("")}${n(aliases, "alias", "aliases")} checked: ${n(errors, "error")}, ${n(findings.length - errors, "warning")}\n`;
}

/** A GitHub Actions workflow command; values escaped as the runner expects. */
export function annotation(f: Finding): string {
  const data = (s: string) => s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
  const prop = (s: string) => data(s).replace(/:/g, "%3A").replace(/,/g, "%2C");
  const title = `st2bot alias lint (${f.rule})`;
  return `::${f.severity} file=${prop(shown(f.file))},line=${f.line},title=${prop(title)}::${data(f.message)}\n`;
}

/** Paths relative to the working directory (the repository root in CI) when inside it. */
function shown(file: string): string {
  const rel = relative(process.cwd(), resolve(file));
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : file;
}

function usage(io: CliIo, message: string): number {
  io.stderr(`st2bot alias lint: ${message}\n\nusage:\n${LINT_HELP}`);
  return 2;
}
