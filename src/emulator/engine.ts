/**
 * The one place the emulator touches st2bot's alias engine (src/st2/aliases): StackStorm's
 * strict matching verdict for `/actionalias/match` and `match_and_execute`, the format parser
 * for `/aliasexecution`, and help strings. The same engine serves st2bot, so the emulator and
 * the bot cannot disagree about what a format means.
 */
import { AliasIndex } from "../st2/aliases/index.ts";
import { parseFormat, parseMultiple } from "../st2/aliases/format.ts";
import type { ActionAlias } from "../st2/aliases/types.ts";
import type { StoredAlias } from "./types.ts";

/** StackStorm's answer to "which alias runs this command?" in strict mode. */
export type Verdict =
  | { ok: true; alias: StoredAlias; display: string; representation: string; matchMultiple: boolean }
  | { ok: false; faultstring: string };

export interface HelpQuery {
  pack?: string;
  filter?: string;
  limit: number;
  offset: number;
}

export class AliasEngine {
  private readonly index: AliasIndex;

  constructor(private readonly aliases: readonly StoredAlias[]) {
    this.index = new AliasIndex(aliases as unknown as ActionAlias[]);
  }

  /** `get_matching_alias`: one hit, or the faultstring StackStorm answers with. */
  match(command: string): Verdict {
    const result = this.index.match(command, { strict: true });
    if (result.kind === "match" || result.kind === "multiple") {
      const alias = this.aliases.find((a) => a.ref === result.alias.ref) ?? (result.alias as unknown as StoredAlias);
      return {
        ok: true,
        alias,
        display: result.display,
        representation: result.representation,
        matchMultiple: result.kind === "multiple",
      };
    }
    if (result.kind === "none") return { ok: false, faultstring: `Command '${command}' matched no patterns` };
    const multi = "multi" in result && result.multi ? " (multi)" : "";
    return { ok: false, faultstring: `Command '${command}' matched more than 1${multi} pattern` };
  }

  /**
   * `extract_parameters`: the parameters of `command` under `format`, one set per regex hit
   * when `multiple`. Throws the parser's error (its message is StackStorm's).
   */
  extract(format: string, command: string, multiple: boolean): Record<string, string>[] {
    return multiple ? parseMultiple(format, command) : [parseFormat(format, command)];
  }

  help(query: HelpQuery): { available: number; helpstrings: { pack: string; display: string; description: string }[] } {
    return this.index.help(query);
  }
}

/** `ActionAliasDB.get_format_strings`: every representation, and plain-string formats. */
export function formatStrings(alias: StoredAlias): unknown[] {
  const out: unknown[] = [];
  for (const f of alias.formats) {
    if (typeof f === "object" && f.representation?.length) out.push(...f.representation);
    else out.push(f);
  }
  return out;
}
