/**
 * How the alias index keeps its representations in memory: a large install has tens of
 * thousands, and a command tries only the few filed under its leading words. So a filed
 * representation keeps its format text (shared with the alias) and compiles it on first use;
 * what the index needs to file it (its leading-word paths, or a word it needs) is read at build
 * time from a compile that is then dropped, and afterwards lives only in the index's trie.
 *
 * Rebuilding the index (a reload, an alias event) must not parse every format again: the
 * filing of each format is read back from the recent indexes' tries, with any compiled form a
 * command already needed.
 */
import { compileFormat, compiledOrNew, type CompiledFormat } from "./format.ts";
import type { Pattern, Pool } from "./pool.ts";
import type { ActionAlias } from "./types.ts";

/** Where the index files one format: under each leading-word path, else under a word it needs. */
export interface Filing {
  /**
   * Leading-word paths of whole words, packed (paths separated by "\n", words by " "; words
   * hold no whitespace); "": none usable. The index slices its trie's words from it when it
   * files the format, so they are allocated together with the trie (see index.ts).
   */
  readonly paths: string;
  /** A word every match contains (used when there is no path), "" when none. */
  readonly word: string;
  /** The compiled format, when something has already compiled it. */
  readonly compiled?: CompiledFormat;
}

/** A representation as the index files it, compiled when a command first tries it. */
export class FiledPattern implements Pattern {
  /** Set (by the matcher) only on the rare pattern JavaScript refuses: five fields per pattern, not six. */
  declare dead?: boolean;
  /**
   * The compiled format (the build checked that it compiles). Until a command first needs it,
   * a getter on the prototype compiles it and stores it on the pattern as a plain field: later
   * reads are plain field loads, which JavaScriptCore's interpreter caches (a getter it calls
   * through its slow path on every read).
   */
  declare compiled: CompiledFormat;

  constructor(
    readonly order: number,
    readonly alias: ActionAlias,
    readonly display: string,
    readonly matchMultiple: boolean,
    /** The representation (its text is the alias's own). */
    readonly format: string,
    compiled: CompiledFormat | undefined,
  ) {
    if (compiled) settle(this, compiled);
  }

  /** The compiled format if something compiled it already (for a rebuild to carry over). */
  get compiledIfAny(): CompiledFormat | undefined {
    return Object.hasOwn(this, "compiled") ? this.compiled : undefined;
  }
}

Object.defineProperty(FiledPattern.prototype, "compiled", {
  configurable: true,
  get(this: FiledPattern): CompiledFormat {
    return settle(this, compileFormat(this.format));
  },
});

/** Stores the compiled format on the pattern as a plain field (see `FiledPattern.compiled`). */
function settle(pattern: FiledPattern, compiled: CompiledFormat): CompiledFormat {
  Object.defineProperty(pattern, "compiled", { value: compiled, writable: true, enumerable: true, configurable: true });
  return compiled;
}

/**
 * The filing of `format`: from `known` (read back from earlier indexes) when there, else from
 * a compile that is kept only if the format cache already held it. Throws FormatError.
 */
export function fileFormat(format: string, known: ReadonlyMap<string, Filing> | undefined): Filing {
  const reused = known?.get(format);
  if (reused) return reused;
  const { compiled, cached } = compiledOrNew(format);
  const { paths, word } = compiled.filing;
  return cached ? { paths, word, compiled } : { paths, word };
}

/** Indexes built lately (weakly held: a replaced index is not kept alive for this). */
const recent: WeakRef<{ pools(): readonly Pool[] }>[] = [];
const RECENT = 4;

/** Remembers an index just built, so the next build can reuse its filings. */
export function rememberIndex(index: { pools(): readonly Pool[] }): void {
  recent.unshift(new WeakRef(index));
  recent.length = Math.min(recent.length, RECENT);
}

/** The filings of every format in the recent indexes that are still alive; undefined when none. */
export function recentFilings(): Map<string, Filing> | undefined {
  let out: Map<string, Filing> | undefined;
  for (const ref of recent) {
    const index = ref.deref();
    if (!index) continue;
    out ??= new Map();
    for (const pool of index.pools()) readFilings(pool, out);
  }
  return out;
}

interface Collected {
  /** The pattern whose filings these are (another alias with the same format is filed alike). */
  owner: Pattern;
  paths: (readonly string[])[];
  word: string;
  compiled: CompiledFormat | undefined;
}

/** Adds the filings of `pool`'s formats that `out` lacks (a format is filed alike in every pool). */
function readFilings(pool: Pool, out: Map<string, Filing>): void {
  const found = new Map<string, Collected>();
  pool.eachFiling((pattern, path, word) => {
    if (!(pattern instanceof FiledPattern)) return;
    const known = found.get(pattern.format);
    if (known && known.owner !== pattern) {
      known.compiled ??= pattern.compiledIfAny;
      return;
    }
    const entry: Collected = known ?? { owner: pattern, paths: [], word, compiled: pattern.compiledIfAny };
    if (!known) found.set(pattern.format, entry);
    if (path) entry.paths.push(path);
  });
  for (const [format, { paths: list, word, compiled }] of found) {
    const had = out.get(format);
    const paths = list.map((p) => p.join(" ")).join("\n");
    if (!had) out.set(format, compiled ? { paths, word, compiled } : { paths, word });
    else if (!had.compiled && compiled) out.set(format, { ...had, compiled });
  }
}
