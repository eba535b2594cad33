/**
 * What st2bot keeps of each alias it holds for the life of the process (st2/aliascache.ts):
 * only the fields something in st2bot reads, with equal values shared between aliases. A
 * large install lists thousands of aliases, and StackStorm's answer carries fields st2bot
 * never looks at (`uid`, `result`, `immutable_parameters`, `metadata_file`: StackStorm itself
 * renders the result and applies the parameters).
 *
 * The readers, for whoever adds one: `id`, `ref`, `name`, `pack` (identity, events, execution,
 * ACL, help, `stackstorm.packs`), `description` (help, the two-factor hint), `enabled`,
 * `action_ref` (kept: the type requires it), `formats` (the index, help), `ack` (`enabled`,
 * `append_url`), `extra` (`security`, `st2bot.live_output`).
 */
import type { ActionAlias, AliasFormat } from "./types.ts";

/** Shares equal packs, acks and extras between the aliases it compacts. */
export class AliasCompactor {
  private readonly packs = new Map<string, string>();
  private readonly objects = new Map<string, object>();

  /**
   * The alias with only the fields st2bot reads (see the file comment), in one shape for all;
   * `ack` and `extra` objects equal to one seen before are that one (frozen: shared).
   */
  compact(alias: ActionAlias): ActionAlias {
    return {
      id: alias.id,
      ref: alias.ref,
      name: alias.name,
      pack: this.pack(alias.pack),
      description: alias.description,
      enabled: alias.enabled,
      action_ref: alias.action_ref,
      formats: alias.formats.map(copyFormat),
      ack: this.shared(alias.ack),
      extra: this.shared(alias.extra),
    };
  }

  /** Forgets the shared values (before compacting a fresh full listing). */
  clear(): void {
    this.packs.clear();
    this.objects.clear();
  }

  private pack(pack: string): string {
    const known = this.packs.get(pack);
    if (known !== undefined) return known;
    this.packs.set(pack, pack);
    return pack;
  }

  private shared<T extends object | null | undefined>(value: T): T {
    if (value === null || value === undefined) return value;
    // Key order is part of the key: StackStorm serialises every alias alike.
    const key = JSON.stringify(value);
    const known = this.objects.get(key);
    if (known) return known as T;
    this.objects.set(key, deepFreeze(value));
    return value;
  }
}

/**
 * A format entry made afresh (the fields the engine reads): with every other object kept
 * here, allocated together after the listing rather than among its parsing garbage.
 */
function copyFormat(format: AliasFormat): AliasFormat {
  if (typeof format === "string") return format;
  return { display: format.display, representation: format.representation?.slice(), match_multiple: format.match_multiple };
}

function deepFreeze<T extends object>(value: T): T {
  for (const v of Object.values(value)) if (typeof v === "object" && v !== null) deepFreeze(v);
  return Object.freeze(value);
}
