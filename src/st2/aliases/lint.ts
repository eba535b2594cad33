/**
 * `st2bot alias lint`: what is wrong with a set of action aliases, found offline with the
 * alias engine itself, so pack CI catches it before chat users do.
 *
 * Errors (commands fail): formats StackStorm rejects, formats the local matcher cannot run
 * (JavaScript cannot express them, or they could stall the bot), commands that two aliases
 * match (StackStorm refuses them), parameters the action does not declare.
 * Warnings: representations that can never be chosen, missing descriptions, formats that
 * start with one of st2bot's own subcommands.
 *
 * Overlaps are found by example: each representation's example commands (built from its
 * regex) are matched against every alias. A reported overlap is real (the example shows it);
 * an overlap no example reaches is not reported.
 */
import { compileFormat, FormatError, type CompiledFormat } from "./format.ts";
import { AliasIndex } from "./index.ts";
import type { ActionMeta, LocatedAlias, LintInput } from "./lintload.ts";
import { ST2BOT_SUBCOMMANDS } from "./reserved.ts";
import { isEnabled, normaliseFormat } from "./types.ts";
import { splitWords } from "./words.ts";
import { describeError } from "../../lib/errors.ts";

export type Severity = "error" | "warning";

/** One finding, where it is and what to do. */
export interface Finding {
  severity: Severity;
  /** A stable name for the check (`overlap`, `undeclared-parameter`, …). */
  rule: string;
  file: string;
  line: number;
  /** The alias's ref; absent for a file that could not be read. */
  alias?: string;
  format?: string;
  message: string;
  /** A command that shows the problem, built from the formats. */
  example?: string;
}

/**
 * Parameters every action of a runner takes besides its own (StackStorm's runner metadata),
 * for the runners packs use most; an unknown runner adds none.
 */
const RUNNER_PARAMETERS: Record<string, readonly string[]> = {
  "local-shell-cmd": ["cmd", "cwd", "env", "kwarg_op", "sudo", "sudo_password", "timeout"],
  "local-shell-script": ["cwd", "env", "kwarg_op", "sudo", "sudo_password", "timeout"],
  "remote-shell-cmd": ["cmd", "cwd", "env", "hosts", "username", "password", "private_key", "passphrase", "port", "parallel", "sudo", "sudo_password", "timeout", "bastion_host", "dir", "kwarg_op"],
  "remote-shell-script": ["cwd", "env", "hosts", "username", "password", "private_key", "passphrase", "port", "parallel", "sudo", "sudo_password", "timeout", "bastion_host", "dir", "kwarg_op"],
  "python-script": ["env", "timeout", "log_level", "debug"],
  "http-request": ["url", "method", "body", "json", "headers", "cookies", "params", "auth", "username", "password", "timeout", "allow_redirects", "verify_ssl_cert", "http_proxy", "https_proxy", "url_hosts_blacklist", "url_hosts_whitelist"],
};

/**
 * Sample values for examples: two distinct fillings (so one a format forbids is not the only
 * try), then one leaving out every parameter that has a default (`deploy {{app}} {{env=prod}}`
 * is also typed as `deploy x1`).
 */
const SAMPLES: ((name: string, i: number, defaults: ReadonlySet<string>) => string)[] = [
  (_n, i) => `x${i + 1}`,
  (_n, i) => `web${i + 1}`,
  (n, i, defaults) => (defaults.has(n) ? "" : `x${i + 1}`),
];

/** One usable representation of one alias. */
interface Rep {
  located: LocatedAlias;
  line: number;
  format: string;
  compiled: CompiledFormat;
}

/** Every finding for `input`, in file and line order. */
export function lintAliases(input: LintInput): Finding[] {
  const findings: Finding[] = input.errors.map((e) => ({ severity: "error", rule: "unreadable", file: e.file, line: e.line, message: e.reason }));
  const reps: Rep[] = [];
  for (const located of input.aliases) {
    const at = { file: located.file, alias: located.alias.ref };
    if (!located.alias.description?.trim()) {
      findings.push({ ...at, severity: "warning", rule: "missing-description", line: located.line, message: `alias ${located.alias.ref} has no description (help shows nothing beside its commands)` });
    }
    const own = usableReps(located, findings);
    reps.push(...own);
    findings.push(...undeclared(located, own, input.actions), ...reserved(own));
  }
  const enabled = reps.filter((r) => isEnabled(r.located.alias));
  findings.push(...neverChosen(enabled), ...overlaps(enabled));
  return findings.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line));
}

/** The alias's representations the engine can run; the others become findings. */
function usableReps(located: LocatedAlias, findings: Finding[]): Rep[] {
  const out: Rep[] = [];
  const { alias } = located;
  alias.formats.forEach((entry, i) => {
    const line = located.formatLines[i] ?? located.line;
    const at = { file: located.file, line, alias: alias.ref };
    let representations: string[];
    try {
      representations = normaliseFormat(entry).representations;
    } catch (err) {
      findings.push({ ...at, severity: "error", rule: "invalid-format", message: describeError(err) });
      return;
    }
    for (const format of representations) {
      try {
        const compiled = compileFormat(format);
        void compiled.regex; // built now: JavaScript's refusal is a finding, not a surprise in chat
        out.push({ located, line, format, compiled });
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
        const rejected = err.reason.startsWith("Python's re rejects");
        findings.push({
          ...at,
          format,
          severity: "error",
          rule: rejected ? "invalid-format" : "unsupported-format",
          message: rejected ? `StackStorm rejects this format: ${err.reason}` : `st2bot cannot match this format: ${err.reason}`,
        });
      }
    }
  });
  return out;
}

/** Parameters the formats (and `immutable_parameters`) pass that the action does not take. */
function undeclared(located: LocatedAlias, reps: Rep[], actions: Map<string, ActionMeta>): Finding[] {
  const action = actions.get(located.alias.action_ref);
  if (!action) return [];
  const takes = new Set([...action.parameters, ...(RUNNER_PARAMETERS[action.runner ?? ""] ?? [])]);
  const out: Finding[] = [];
  const seen = new Set<string>();
  const report = (name: string, line: number, format?: string) => {
    if (takes.has(name) || seen.has(name)) return;
    seen.add(name);
    out.push({
      severity: "error",
      rule: "undeclared-parameter",
      file: located.file,
      line,
      alias: located.alias.ref,
      format,
      message: `parameter "${name}" is not declared by action ${action.ref}${action.runner && RUNNER_PARAMETERS[action.runner] ? ` nor its runner ${action.runner}` : ""}: StackStorm refuses the execution`,
    });
  };
  for (const rep of reps) for (const name of rep.compiled.fields) report(name, rep.line, rep.format);
  for (const name of Object.keys(located.alias.immutable_parameters ?? {})) report(name, located.line);
  return out;
}

/** Formats whose first word is one of st2bot's subcommands (`!st2 cancel …` never reaches them). */
function reserved(reps: Rep[]): Finding[] {
  const out: Finding[] = [];
  for (const rep of reps) {
    const first = splitWords(exampleOf(rep, 0) ?? "")[0]?.toLowerCase();
    if (!first || !ST2BOT_SUBCOMMANDS.includes(first)) continue;
    out.push({
      ...where(rep),
      severity: "warning",
      rule: "st2bot-subcommand",
      message: `starts with "${first}": under st2bot "!st2 ${first} …" is its own command, so this alias is reached only by name ("@st2bot ${first} …")`,
    });
  }
  return out;
}

/**
 * Representations that lose to another of the same alias for each of their examples (st2bot
 * chooses the most specific; StackStorm refuses the command as matching more than 1 pattern).
 */
function neverChosen(reps: Rep[]): Finding[] {
  const out: Finding[] = [];
  const byAlias = Map.groupBy(reps, (r) => r.located);
  for (const [located, own] of byAlias) {
    if (own.length < 2) continue;
    const index = new AliasIndex([located.alias]);
    const firstLine = new Map<string, number>();
    for (const rep of own) {
      const earlier = firstLine.get(rep.format);
      if (earlier !== undefined) {
        out.push({ ...where(rep), severity: "warning", rule: "duplicate-format", message: `the same representation as line ${earlier}: every command it matches is refused as matching more than 1 pattern` });
        continue;
      }
      firstLine.set(rep.format, rep.line);
      if (own.filter((r) => r.format === rep.format).length > 1) continue;
      let lost: { example: string; winner?: string } | undefined;
      let won = false;
      for (let s = 0; s < SAMPLES.length && !won; s++) {
        const example = exampleOf(rep, s);
        if (example === undefined) continue;
        const outcome = index.match(example);
        const chosen = outcome.kind === "match" ? outcome.match.representation : outcome.kind === "multiple" ? outcome.representation : undefined;
        if (outcome.kind === "none") continue; // the example is not one of its commands after all
        if (chosen === rep.format) won = true;
        else lost ??= { example, winner: chosen };
      }
      if (won || !lost) continue;
      out.push({
        ...where(rep),
        severity: "warning",
        rule: "never-chosen",
        example: lost.example,
        message: lost.winner
          ? `representation "${rep.format}" is never chosen: "${lost.example}" runs "${lost.winner}" instead (StackStorm refuses it as matching more than 1 pattern)`
          : `representation "${rep.format}" is never chosen: "${lost.example}" matches several representations of this alias equally well (StackStorm and st2bot refuse it)`,
      });
    }
  }
  return out;
}

/** Pairs of aliases one command matches (StackStorm and st2bot alike refuse it). */
function overlaps(reps: Rep[]): Finding[] {
  const index = new AliasIndex([...new Set(reps.map((r) => r.located.alias))]);
  const lineOf = new Map(reps.map((r) => [r.located.alias, new Map([[r.format, `${r.located.file}:${r.line}`]])]));
  for (const r of reps) lineOf.get(r.located.alias)!.set(r.format, `${r.located.file}:${r.line}`);
  const out: Finding[] = [];
  const reported = new Set<string>();
  for (const rep of reps) {
    for (let s = 0; s < SAMPLES.length; s++) {
      const example = exampleOf(rep, s);
      if (example === undefined) continue;
      const outcome = index.match(example, { strict: true });
      if (outcome.kind !== "ambiguous") continue;
      for (const other of outcome.candidates) {
        if (other.alias === rep.located.alias) continue;
        const key = [rep.located.alias.ref, other.alias.ref].sort().join(" ");
        if (reported.has(key)) continue;
        reported.add(key);
        const there = lineOf.get(other.alias)?.get(other.representation);
        out.push({
          ...where(rep),
          severity: "error",
          rule: "overlap",
          example,
          message: `"${example}" matches both ${rep.located.alias.ref} ("${rep.format}") and ${other.alias.ref} ("${other.representation}"${there ? `, ${there}` : ""}): the command is refused`,
        });
      }
    }
  }
  return out;
}

function where(rep: Rep): Pick<Finding, "file" | "line" | "alias" | "format"> {
  return { file: rep.located.file, line: rep.line, alias: rep.located.alias.ref, format: rep.format };
}

/** The representation's example with sample set `s`, or undefined when none can be built. */
function exampleOf(rep: Rep, s: number): string | undefined {
  const sample = SAMPLES[s]!;
  const defaults = new Set(rep.compiled.defaults.map(([name]) => name));
  try {
    return rep.compiled.exampleCommand((name, i) => sample(name, i, defaults)).replace(/\s+/g, " ");
  } catch {
    return undefined;
  }
}
