/**
 * The one place the emulator touches st2bot's alias engine (src/st2/aliases): StackStorm's
 * strict matching verdict for `/actionalias/match` and `match_and_execute`, the format parser
 * for `/aliasexecution`, and help strings. The same engine serves st2bot, so the emulator and
 * the bot cannot disagree about what a format means.
 */
import { parseFormat, parseMultiple } from "../st2/aliases/format.ts";
import { AliasIndex, type HelpQuery, type HelpResult } from "../st2/aliases/index.ts";
import type { StoredAlias } from "./types.ts";

/** StackStorm's answer to "which alias runs this command?" in strict mode. */
export type Verdict =
  | { ok: true; alias: StoredAlias; display: string; representation: string; matchMultiple: boolean }
  | { ok: false; faultstring: string };

export class AliasEngine {
  private readonly index: AliasIndex;
  private readonly byRef: Map<string, StoredAlias>;

  constructor(aliases: readonly StoredAlias[]) {
    this.index = new AliasIndex(aliases);
    this.byRef = new Map(aliases.map((a) => [a.ref, a]));
  }

  /** `get_matching_alias`: one hit, or the faultstring StackStorm answers with. */
  match(command: string): Verdict {
    const outcome = this.index.match(command, { strict: true });
    switch (outcome.kind) {
      case "match": {
        const { alias, display, representation } = outcome.match;
        return { ok: true, alias: this.stored(alias.ref), display, representation, matchMultiple: false };
      }
      case "multiple": {
        const { alias, display, representation } = outcome;
        return { ok: true, alias: this.stored(alias.ref), display, representation, matchMultiple: true };
      }
      default:
        return { ok: false, faultstring: outcome.message };
    }
  }

  /**
   * `extract_parameters`: the parameters of `command` under `format`, one set per regex hit
   * when `multiple`. Throws the parser's error (its message is StackStorm's).
   */
  extract(format: string, command: string, multiple: boolean): Record<string, string>[] {
    return multiple ? parseMultiple(format, command) : [parseFormat(format, command)];
  }

  /** `generate_helpstring_result` over the enabled aliases. */
  help(query: HelpQuery): HelpResult {
    return this.index.help(query);
  }

  private stored(ref: string): StoredAlias {
    const alias = this.byRef.get(ref);
    if (!alias) throw new Error(`alias engine returned unknown alias ${ref}`);
    return alias;
  }
}

/** `ActionAliasDB.get_format_strings`: every representation, and plain-string formats. */
export function formatStrings(alias: StoredAlias): unknown[] {
  const out: unknown[] = [];
  for (const f of alias.formats) {
    const rep: unknown = typeof f === "object" && f !== null ? f.representation : undefined;
    if (typeof rep === "string") out.push(rep);
    else if (Array.isArray(rep) && rep.length) out.push(...rep);
    else out.push(f);
  }
  return out;
}
