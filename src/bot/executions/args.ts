/**
 * The arguments of the execution commands, read in linear time (no backtracking pattern sees
 * what a user typed): `executions [--mine] [--action ref] [--status s] [--limit N]` and
 * `rerun <id> [key=value ...]`.
 */
import { CommandError } from "../../lib/errors.ts";

/** StackStorm's execution states (st2common/constants/action.py), for `--status`. */
export const STATUSES = [
  "requested", "scheduled", "delayed", "running", "succeeded", "failed", "timeout", "abandoned",
  "canceling", "canceled", "pending", "pausing", "paused", "resuming",
] as const;

/** What `executions` was asked for. */
export interface ListArgs {
  mine: boolean;
  action?: string;
  status?: string;
  limit: number;
}

/** The most executions one listing shows (one chat message stays readable). */
export const MAX_LIST = 20;

/** Parses `--mine --action ref --status s --limit N` (`--flag=value` works too). */
export function parseListArgs(args: string): ListArgs {
  const out: ListArgs = { mine: false, limit: 10 };
  const words = args.split(/\s+/).filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const eq = w.indexOf("=");
    const flag = (w.startsWith("--") && eq > 0 ? w.slice(0, eq) : w).toLowerCase();
    const value = () => {
      const v = w.startsWith("--") && eq > 0 ? w.slice(eq + 1) : words[++i];
      if (!v) throw new CommandError(`${flag} needs a value.`);
      return v;
    };
    if (flag === "--mine") out.mine = true;
    else if (flag === "--action") out.action = checkRef(value());
    else if (flag === "--status") out.status = checkStatus(value());
    else if (flag === "--limit") out.limit = checkLimit(value());
    else throw new CommandError(`I do not know "${w}". Use --mine, --action <pack.action>, --status <status> or --limit <1-${MAX_LIST}>.`);
  }
  return out;
}

function checkRef(ref: string): string {
  if (!/^[\w-]+\.[\w.-]+$/.test(ref)) throw new CommandError(`"${ref}" is not an action ref (pack.action).`);
  return ref;
}

function checkStatus(status: string): string {
  const s = status.toLowerCase();
  if (!(STATUSES as readonly string[]).includes(s)) throw new CommandError(`"${status}" is not an execution status; one of: ${STATUSES.join(", ")}.`);
  return s;
}

function checkLimit(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIST) throw new CommandError(`--limit takes a whole number from 1 to ${MAX_LIST}.`);
  return n;
}

/** The id word and the rest (`cancel <id>`, `execution <id>`); throws when no id was given. */
export function splitId(args: string, usage: string): { id: string; rest: string } {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(args.trim());
  if (!m) throw new CommandError(`Which execution? Usage: ${usage}`);
  return { id: m[1]!, rest: m[2]! };
}

/**
 * `key=value key2="two words" key3='x'`: the parameters a re-run overrides. Names are word
 * characters (StackStorm refuses others); a value is a quoted run or up to the next space.
 */
export function parsePairs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const n = text.length;
  const space = (c: string | undefined) => c !== undefined && /\s/.test(c);
  while (i < n) {
    while (i < n && space(text[i])) i++;
    if (i >= n) break;
    const start = i;
    while (i < n && /\w/.test(text[i]!)) i++;
    const key = text.slice(start, i);
    if (!key || text[i] !== "=") {
      const word = text.slice(start).split(/\s/, 1)[0];
      throw new CommandError(`"${word}" is not a key=value pair (names are letters, digits and _).`);
    }
    i++;
    const quote = text[i];
    let value: string;
    if (quote === '"' || quote === "'") {
      const close = text.indexOf(quote, i + 1);
      if (close < 0) throw new CommandError(`The value of ${key} has no closing ${quote}.`);
      value = text.slice(i + 1, close);
      i = close + 1;
    } else {
      const from = i;
      while (i < n && !space(text[i])) i++;
      value = text.slice(from, i);
    }
    out[key] = value;
  }
  return out;
}
