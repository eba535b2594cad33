/**
 * The alias index: which action alias (and which of its representations) a chat command
 * runs, decided locally with StackStorm's rules (`get_matching_alias`), fast enough for
 * thousands of aliases.
 *
 * StackStorm tries every representation of every enabled alias and refuses a command that
 * matches more than one. st2bot keeps that as `strict` mode; by default it resolves one
 * common case instead: when all matches belong to the same alias (an alias offering a short
 * and a long form, like alertlogic's `scan executions [customer_id <id>] <title>`), the most
 * specific representation wins — the one whose parameters swallowed the fewest characters.
 *
 * Speed: representations are filed in a trie by their leading literal words (read from the
 * parsed regex, so only words a match really requires); the command's own leading words
 * pick the few candidates. A representation that starts with a parameter or a regex
 * construct is filed under a whole word it needs elsewhere, else in a list always tried.
 * Before any regex runs, the literal text it requires must appear in the command, in order.
 * The verdict is the same as trying every representation (the tests check this).
 */
import { prepareCommand, type PreparedCommand } from "./command.ts";
import { FormatError } from "./format.ts";
import { FiledPattern, fileFormat, recentFilings, rememberIndex, type Filing } from "./filing.ts";
import type { FormatHit } from "./format.ts";
import { helpOf, type HelpQuery, type HelpResult } from "./help.ts";
import type { AliasProblem, Incomplete, Match, MatchOutcome } from "./outcome.ts";
import { displayOf, Pool, refOf, type Hit, type Pattern } from "./pool.ts";
import { Suggester } from "./suggest.ts";
import { splitWords } from "./words.ts";
import { formatPatterns, isEnabled, normaliseFormat } from "./types.ts";
import type { ActionAlias } from "./types.ts";
import { describeError } from "../../lib/errors.ts";

export type { AliasProblem, Incomplete, Match, MatchOutcome } from "./outcome.ts";

/**
 * The longest command matched at all. Trailing `key=value` pairs (JSON values included) are
 * cut off in linear time, so they may use most of it.
 */
export const MAX_COMMAND_LENGTH = 4096;
/**
 * The longest text the format regexes run on (the command without its trailing pairs).
 * StackStorm's formats are Python regexes with lazy `.+?` parameters: on a backtracking
 * engine a format with several parameters costs a power of this length, so it is kept
 * where the worst of 198 real aliases stays in the tens of milliseconds
 * (scripts/bench/redos.ts prints it).
 */
export const MAX_MATCHED_LENGTH = 1024;

export type { HelpQuery, HelpResult };

/**
 * The enabled aliases' representations, compiled once and filed for fast lookup; `match`
 * gives StackStorm's verdict on a command, `help` its help listing. Immutable: a changed alias
 * set builds a new index (st2/aliascache.ts swaps it).
 */
export class AliasIndex {
  /** Every alias the index was built from, enabled or not (a copy of the input). */
  readonly aliases: readonly ActionAlias[];
  /** Representations that cannot be used (skipped), with the reason. */
  readonly problems: AliasProblem[] = [];
  private readonly normal = new Pool();
  private readonly multi = new Pool();
  private readonly suggester = new Suggester();

  /**
   * Compiles every representation; one that cannot be used lands in `problems`, not an
   * exception. In two passes: every format is read first (a parse per format, all of it
   * garbage but the filing), then the index's own objects are made together, so what the
   * index keeps for its lifetime is not scattered among the parses' garbage (with thousands
   * of aliases, scattered survivors kept 5 MB of mostly empty heap blocks resident).
   */
  constructor(aliases: readonly ActionAlias[]) {
    this.aliases = aliases.slice();
    const known = recentFilings();
    let order = 0;
    const planned: Planned[] = [];
    for (const alias of this.aliases) {
      const plans = this.compileAlias(alias, () => order++, known);
      if (isEnabled(alias) && plans.length > 0) planned.push({ alias, pools: poolsOf(alias), plans });
    }
    for (const { alias, pools, plans } of planned) {
      for (const { order, entry, filing } of plans) {
        const pattern = new FiledPattern(order, alias, entry.display, entry.matchMultiple, entry.representation, filing.compiled);
        if (pools & NORMAL) this.normal.add(pattern, entry.representation, filing);
        if (pools & MULTI) this.multi.add(pattern, entry.representation, filing);
        this.suggester.add(entry.display || entry.representation);
      }
    }
    rememberIndex(this);
  }

  /** The pools (normal, then match_multiple), for a rebuild to read their filings back. */
  pools(): readonly Pool[] {
    return [this.normal, this.multi];
  }

  /** How many aliases the index was built from (enabled or not). */
  get size(): number {
    return this.aliases.length;
  }

  /** Matches a command the way StackStorm's `get_matching_alias` does (see the file header). */
  match(command: string, opts: { strict?: boolean } = {}): MatchOutcome {
    if (command.length > MAX_COMMAND_LENGTH) return tooLong(command.length, MAX_COMMAND_LENGTH, "");
    const prepared = prepareCommand(command);
    const matched = prepared.stream.length - 2;
    if (matched > MAX_MATCHED_LENGTH) return tooLong(matched, MAX_MATCHED_LENGTH, " before its trailing key=value pairs");
    const words = splitWords(prepared.stream);
    const strict = opts.strict === true;
    const normal = this.normal.run(prepared, words, this.problems);
    if (normal.length > 0) return this.decide(normal, prepared, strict, false);
    const multi = this.multi.run(prepared, words, this.problems);
    if (multi.length > 0) return this.decide(multi, prepared, strict, true);
    return this.noMatch(command, words);
  }

  /** `GET /actionalias/help`, computed locally over these aliases (see `helpOf`). */
  help(query: HelpQuery = {}): HelpResult {
    return helpOf(this.aliases, query);
  }

  /** The alias's usable representations, each with where to file it (see filing.ts). */
  private compileAlias(alias: ActionAlias, nextOrder: () => number, known: ReadonlyMap<string, Filing> | undefined): Plan[] {
    const patterns: Plan[] = [];
    let entries: ReturnType<typeof formatPatterns>;
    try {
      entries = formatPatterns(alias.formats ?? []);
    } catch (err) {
      this.problems.push({ ref: refOf(alias), format: "", reason: describeError(err) });
      return patterns;
    }
    for (const entry of entries) {
      const order = nextOrder();
      try {
        patterns.push({ order, entry, filing: fileFormat(entry.representation, known) });
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
        this.problems.push({ ref: refOf(alias), format: entry.representation, reason: err.reason });
      }
    }
    return patterns;
  }

  private decide(hits: Hit[], prepared: PreparedCommand, strict: boolean, multi: boolean): MatchOutcome {
    const first = hits[0];
    if (first && hits.length === 1) return this.outcome(first, prepared);
    if (!strict) {
      const chosen = mostSpecific(hits);
      if (chosen) return this.outcome(chosen, prepared, hits);
    }
    const label = multi ? "more than 1 (multi) pattern" : "more than 1 pattern";
    const outcome: MatchOutcome = { kind: "ambiguous", message: `Command '${prepared.command}' matched ${label}`, candidates: hits.map(toMatch) };
    if (multi) outcome.multi = true;
    return outcome;
  }

  private outcome(chosen: Hit, prepared: PreparedCommand, among?: Hit[]): MatchOutcome {
    const { pattern } = chosen;
    if (pattern.matchMultiple) {
      const hits = (pattern.compiled.runAll(prepared) ?? []).map((h) => ({ command: hitCommand(h, prepared), params: h.params }));
      return { kind: "multiple", alias: pattern.alias, representation: pattern.compiled.format, display: displayOf(pattern), hits };
    }
    const match = toMatch(chosen);
    if (among) match.chosenAmong = among.map((h) => h.pattern.compiled.format);
    return { kind: "match", match };
  }

  private noMatch(command: string, words: string[]): MatchOutcome {
    const suggester = this.suggester;
    const pools = [this.normal, this.multi];
    let cached: string[] | undefined;
    let incomplete: Incomplete[] | undefined;
    // Suggestions cost far more than matching: computed only if someone reads them.
    return {
      kind: "none",
      message: `Command '${command}' matched no patterns`,
      get suggestions(): string[] {
        cached ??= suggester.suggest(words.join(" "));
        return cached;
      },
      get incomplete(): Incomplete[] {
        incomplete ??= findIncomplete(pools, words);
        return incomplete;
      },
    };
  }
}

/** A usable representation of an alias, read and ready to file. */
interface Plan {
  order: number;
  entry: ReturnType<typeof formatPatterns>[number];
  filing: Filing;
}

/** An enabled alias's usable representations, and the pools they go to (NORMAL | MULTI). */
interface Planned {
  alias: ActionAlias;
  pools: number;
  plans: Plan[];
}

const NORMAL = 1;
const MULTI = 2;

/**
 * StackStorm's first pass queries aliases with a format that is not match_multiple, its
 * second pass aliases with a match_multiple one; each pass then tries *all* formats of
 * the aliases it found. A mixed alias therefore sits in both pools with all its patterns.
 */
function poolsOf(alias: ActionAlias): number {
  let pools = 0;
  for (const f of alias.formats ?? []) {
    let multi = false;
    try {
      multi = normaliseFormat(f).matchMultiple;
    } catch {
      // A malformed entry counts as a normal one (it has no patterns of its own).
    }
    pools |= multi ? MULTI : NORMAL;
  }
  return pools;
}

function tooLong(length: number, limit: number, where: string): MatchOutcome {
  const message = `The command is ${length.toLocaleString("en")} characters long${where}; st2bot matches at most ${limit.toLocaleString("en")}.`;
  return { kind: "too-long", message, length, limit };
}

/** Representations filed exactly under the command's words that still need parameters. */
function findIncomplete(pools: Pool[], words: string[]): Incomplete[] {
  const out: Incomplete[] = [];
  const seen = new Set<Pattern>();
  for (const pool of pools) {
    for (const pattern of pool.filedAt(words)) {
      if (seen.has(pattern)) continue;
      seen.add(pattern);
      const defaults = new Set(pattern.compiled.defaults.map(([name]) => name));
      const missing = [...new Set(pattern.compiled.fields)].filter((f) => !defaults.has(f));
      if (missing.length === 0) continue;
      out.push({ alias: pattern.alias, display: displayOf(pattern), representation: pattern.compiled.format, missing });
    }
  }
  return out.sort((a, b) => a.missing.length - b.missing.length || (a.representation < b.representation ? -1 : 1));
}
function toMatch({ pattern, hit }: Hit): Match {
  // The parameters are assembled when read (help, tests): running the alias needs only its format.
  return {
    alias: pattern.alias,
    display: displayOf(pattern),
    representation: pattern.compiled.format,
    get params() {
      return hit.params;
    },
  };
}

/** The text to send for one match_multiple hit: the trailing pairs apply to every hit. */
function hitCommand(hit: FormatHit, prepared: PreparedCommand): string {
  const pairs = prepared.pairsText.trim();
  return pairs ? `${hit.text} ${pairs}` : hit.text;
}

/**
 * st2bot's rule for several hits: only when they all belong to one alias, the one whose
 * parameters captured the fewest characters of the command; a tie decides nothing.
 */
function mostSpecific(hits: Hit[]): Hit | undefined {
  const alias = hits[0]?.pattern.alias;
  if (!alias || hits.some((h) => h.pattern.alias !== alias)) return undefined;
  let best: Hit | undefined;
  let tie = false;
  for (const h of hits) {
    if (!best || h.hit.captured < best.hit.captured) {
      best = h;
      tie = false;
    } else if (h.hit.captured === best.hit.captured) tie = true;
  }
  return tie ? undefined : best;
}
