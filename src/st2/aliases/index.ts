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
import { compileFormat, FormatError } from "./format.ts";
import type { CompiledFormat, FormatHit } from "./format.ts";
import { MAX_INDEXED_DEPTH } from "./hints.ts";
import { compilePython } from "./pyregex/emit.ts";
import { containsInOrder, splitWords } from "./words.ts";
import { formatPatterns, isEnabled, normaliseFormat } from "./types.ts";
import type { ActionAlias } from "./types.ts";

export interface Match {
  alias: ActionAlias;
  /** The format's help text (its representation when the entry has no display). */
  display: string;
  /** The representation that matched: send it as `format` to POST /aliasexecution. */
  representation: string;
  params: Record<string, string>;
  /** When several representations of this alias matched and the most specific was picked. */
  chosenAmong?: string[];
}

export type MatchOutcome =
  | { kind: "match"; match: Match }
  | {
      kind: "multiple";
      alias: ActionAlias;
      representation: string;
      display: string;
      /** One execution per regex hit; `command` is the hit's text (plus any trailing pairs). */
      hits: { command: string; params: Record<string, string> }[];
    }
  | { kind: "none"; message: string; suggestions: string[] }
  | { kind: "ambiguous"; message: string; candidates: Match[]; multi?: boolean };

export interface AliasProblem {
  ref: string;
  format: string;
  reason: string;
}

export interface HelpQuery {
  pack?: string;
  filter?: string;
  limit?: number;
  offset?: number;
}

export interface HelpResult {
  available: number;
  helpstrings: { pack: string; display: string; description: string }[];
}

/** One (alias, representation) pair StackStorm would try (the representation is `compiled.format`). */
interface Pattern {
  order: number;
  alias: ActionAlias;
  display: string;
  matchMultiple: boolean;
  compiled: CompiledFormat;
  /** Set when JavaScript refused the translated regex on first use: never tried again. */
  dead?: boolean;
}

interface Hit {
  pattern: Pattern;
  hit: FormatHit;
}

class TrieNode {
  /** Patterns filed at this node (most inner nodes have none: allocated when needed). */
  patterns: Pattern[] | undefined;
  children: Map<string, TrieNode> | undefined;

  child(word: string): TrieNode {
    this.children ??= new Map();
    let node = this.children.get(word);
    if (!node) {
      node = new TrieNode();
      this.children.set(word, node);
    }
    return node;
  }
}

/** The patterns of one matching pass (StackStorm runs a normal and a match_multiple pass). */
class Pool {
  private readonly root = new TrieNode();
  /** Patterns with no leading word but a word they need elsewhere, by that word. */
  private readonly byWord = new Map<string, Pattern[]>();
  /** Patterns with neither: always tried. */
  private readonly fallback: Pattern[] = [];
  /** Display-only entries (empty representation): only a blank command can match them. */
  private readonly blank: Pattern[] = [];

  add(pattern: Pattern): void {
    if (pattern.compiled.format === "") {
      this.blank.push(pattern);
      return;
    }
    const { paths, word } = pattern.compiled.hints;
    if (paths.length === 0) {
      if (!word) this.fallback.push(pattern);
      else {
        const list = this.byWord.get(word);
        if (list) list.push(pattern);
        else this.byWord.set(word, [pattern]);
      }
      return;
    }
    for (const path of paths) {
      let node = this.root;
      for (const word of path) node = node.child(word);
      (node.patterns ??= []).push(pattern);
    }
  }

  /** Every hit among the candidates for this command (`words`: all of its words), in StackStorm's order. */
  run(prepared: PreparedCommand, words: string[], problems: AliasProblem[]): Hit[] {
    const hits: Hit[] = [];
    if (words.length === 0) tryAll(this.blank, prepared, hits, problems);
    tryAll(this.fallback, prepared, hits, problems);
    if (this.byWord.size > 0) {
      const seen: Pattern[][] = [];
      for (const word of words) {
        const patterns = this.byWord.get(word);
        // A word said twice must not try its patterns twice.
        if (patterns && !seen.includes(patterns)) {
          seen.push(patterns);
          tryAll(patterns, prepared, hits, problems);
        }
      }
    }
    let node: TrieNode | undefined = this.root;
    for (let depth = 0; depth < words.length && depth < MAX_INDEXED_DEPTH; depth++) {
      node = node.children?.get(words[depth] ?? "");
      if (!node) break;
      if (node.patterns) tryAll(node.patterns, prepared, hits, problems);
    }
    if (hits.length > 1) hits.sort((a, b) => a.pattern.order - b.pattern.order);
    return hits;
  }
}

function tryAll(patterns: readonly Pattern[], prepared: PreparedCommand, out: Hit[], problems: AliasProblem[]): void {
  for (const pattern of patterns) {
    if (pattern.dead || !containsInOrder(prepared.stream, pattern.compiled.literals)) continue;
    let hit: FormatHit | null;
    try {
      hit = pattern.compiled.run(prepared);
    } catch (err) {
      // The RegExp is built on first use; a refusal then is reported like any bad format.
      if (!(err instanceof FormatError)) throw err;
      pattern.dead = true;
      problems.push({ ref: refOf(pattern.alias), format: pattern.compiled.format, reason: err.reason });
      continue;
    }
    if (hit) out.push({ pattern, hit });
  }
}

export class AliasIndex {
  readonly aliases: readonly ActionAlias[];
  /** Representations that cannot be used (skipped), with the reason. */
  readonly problems: AliasProblem[] = [];
  private readonly normal = new Pool();
  private readonly multi = new Pool();
  private readonly suggester = new Suggester();

  constructor(aliases: readonly ActionAlias[]) {
    this.aliases = aliases.slice();
    let order = 0;
    for (const alias of this.aliases) {
      const enabled = isEnabled(alias);
      const patterns = this.compileAlias(alias, () => order++);
      if (!enabled) continue;
      this.addToPools(alias, patterns);
      for (const p of patterns) this.suggester.add(displayOf(p));
    }
  }

  /** How many aliases the index was built from (enabled or not). */
  get size(): number {
    return this.aliases.length;
  }

  /** Matches a command the way StackStorm's `get_matching_alias` does (see the file header). */
  match(command: string, opts: { strict?: boolean } = {}): MatchOutcome {
    const prepared = prepareCommand(command);
    const words = splitWords(prepared.stream);
    const strict = opts.strict === true;
    const normal = this.normal.run(prepared, words, this.problems);
    if (normal.length > 0) return this.decide(normal, prepared, strict, false);
    const multi = this.multi.run(prepared, words, this.problems);
    if (multi.length > 0) return this.decide(multi, prepared, strict, true);
    return this.noMatch(command);
  }

  /**
   * `GET /actionalias/help`, computed locally (`generate_helpstring_result`): enabled aliases,
   * optionally one pack, displays matching `filter` (a case-insensitive Python regex; text
   * that is not a valid regex is searched literally), `available` counted before paging.
   */
  help(query: HelpQuery = {}): HelpResult {
    const limit = query.limit ?? 0;
    const offset = query.offset ?? 0;
    if (!Number.isInteger(limit) || !Number.isInteger(offset)) throw new TypeError("limit or offset argument is not an integer");
    const accepts = helpFilter(query.filter ?? "");
    const helpstrings: HelpResult["helpstrings"] = [];
    let count = 0;
    for (const alias of this.aliases) {
      if (!isEnabled(alias)) continue;
      if (query.pack && query.pack !== alias.pack) continue;
      for (const format of alias.formats ?? []) {
        const display = displayOfFormat(format);
        if (!display || !accepts(display)) continue;
        if (inPage(count, limit, offset)) helpstrings.push({ pack: alias.pack, display, description: alias.description ?? "" });
        count++;
      }
    }
    return { available: count, helpstrings };
  }

  private compileAlias(alias: ActionAlias, nextOrder: () => number): Pattern[] {
    const patterns: Pattern[] = [];
    let entries: ReturnType<typeof formatPatterns>;
    try {
      entries = formatPatterns(alias.formats ?? []);
    } catch (err) {
      this.problems.push({ ref: refOf(alias), format: "", reason: (err as Error).message });
      return patterns;
    }
    for (const entry of entries) {
      const order = nextOrder();
      try {
        const compiled = compileFormat(entry.representation);
        patterns.push({ order, alias, display: entry.display, matchMultiple: entry.matchMultiple, compiled });
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
        this.problems.push({ ref: refOf(alias), format: entry.representation, reason: err.reason });
      }
    }
    return patterns;
  }

  /**
   * StackStorm's first pass queries aliases with a format that is not match_multiple, its
   * second pass aliases with a match_multiple one; each pass then tries *all* formats of
   * the aliases it found. A mixed alias therefore sits in both pools with all its patterns.
   */
  private addToPools(alias: ActionAlias, patterns: Pattern[]): void {
    const formats = (alias.formats ?? []).map((f) => {
      try {
        return normaliseFormat(f).matchMultiple;
      } catch {
        return false;
      }
    });
    if (formats.some((m) => !m)) for (const p of patterns) this.normal.add(p);
    if (formats.some((m) => m)) for (const p of patterns) this.multi.add(p);
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

  private noMatch(command: string): MatchOutcome {
    const suggester = this.suggester;
    let cached: string[] | undefined;
    // Suggestions cost far more than matching: computed only if someone reads them.
    return {
      kind: "none",
      message: `Command '${command}' matched no patterns`,
      get suggestions(): string[] {
        cached ??= suggester.suggest(command);
        return cached;
      },
    };
  }
}

/** A format entry's display; "" for an entry that is neither string nor object. */
function displayOfFormat(format: unknown): string {
  try {
    return normaliseFormat(format).display;
  } catch {
    return "";
  }
}

function refOf(alias: ActionAlias): string {
  return alias.ref || `${alias.pack}.${alias.name}`;
}

function displayOf(pattern: Pattern): string {
  return pattern.display || pattern.compiled.format;
}

function toMatch({ pattern, hit }: Hit): Match {
  return { alias: pattern.alias, display: displayOf(pattern), representation: pattern.compiled.format, params: hit.params };
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

// ---------------------------------------------------------------------------------------
// Help
// ---------------------------------------------------------------------------------------

/** StackStorm's paging arithmetic, including its treatment of negative values. */
function inPage(count: number, limit: number, offset: number): boolean {
  if (offset === 0 && limit > 0) return count < limit;
  if (offset > 0 && limit === 0) return count >= offset;
  if (offset > 0 && limit > 0) return count >= offset && count < offset + limit;
  return true;
}

/** `re.search(filter, display, re.IGNORECASE)`; an invalid regex is searched as plain text. */
function helpFilter(filter: string): (display: string) => boolean {
  if (!filter) return () => true;
  try {
    const re = compilePython(filter, { i: true }).regex;
    return (display) => re.test(display);
  } catch {
    const needle = filter.toLowerCase();
    return (display) => display.toLowerCase().includes(needle);
  }
}

// ---------------------------------------------------------------------------------------
// "Did you mean"
// ---------------------------------------------------------------------------------------

/** The displays of the enabled aliases, indexed for "did you mean" (built on first use). */
class Suggester {
  /** Displays in order of first appearance (duplicates are dropped when indexing). */
  private displays: string[] = [];
  private index: { byFirst: Map<string, number[]>; byWord: Map<string, number[]>; words: string[][] } | undefined;

  add(display: string): void {
    if (!display) return;
    this.displays.push(display);
    this.index = undefined;
  }

  /**
   * Up to `limit` displays closest to the command: leading words in common count most, then
   * words shared anywhere, then how close the first words are (edit distance). Only
   * displays sharing a word with the command, or starting with a word close to its first
   * word, are scored.
   */
  suggest(command: string, limit = 3): string[] {
    const words = splitWords(prepareCommand(command).stream)
      .slice(0, MAX_INDEXED_DEPTH)
      .map((w) => w.toLowerCase());
    const head = words[0];
    if (!head) return [];
    const index = this.build();
    const closeness = new Map<number, number>();
    for (const [first, ids] of index.byFirst) {
      const c = 1 - editDistance(head, first) / Math.max(head.length, first.length);
      if (c >= MIN_CLOSENESS) for (const id of ids) closeness.set(id, c);
    }
    const candidates = new Set(closeness.keys());
    for (const w of words) for (const id of index.byWord.get(w) ?? []) candidates.add(id);
    const scored: { id: number; score: number }[] = [];
    for (const id of candidates) {
      const score = similarity(words, index.words[id] ?? [], closeness.get(id) ?? 0);
      if (score > 0) scored.push({ id, score });
    }
    scored.sort((a, b) => b.score - a.score || a.id - b.id);
    return scored.slice(0, limit).map((x) => this.displays[x.id] ?? "");
  }

  private build(): NonNullable<Suggester["index"]> {
    if (this.index) return this.index;
    // Deduplicated here rather than on add: a Set kept for the index's lifetime costs more
    // than the repeated references.
    this.displays = [...new Set(this.displays)];
    const byFirst = new Map<string, number[]>();
    const byWord = new Map<string, number[]>();
    const words = this.displays.map((display, id) => {
      const plain = display
        .toLowerCase()
        .split(/\s+/)
        .filter((w) => w && !PLACEHOLDER.test(w));
      const first = plain[0];
      if (first) pushTo(byFirst, first, id);
      for (const w of new Set(plain)) pushTo(byWord, w, id);
      return plain;
    });
    this.index = { byFirst, byWord, words };
    return this.index;
  }
}

const PLACEHOLDER = /[{}<>[\]()|]/;
/** How close (1 − edit distance / length) a first word must be to count on its own. */
const MIN_CLOSENESS = 0.7;

function pushTo(map: Map<string, number[]>, key: string, id: number): void {
  const list = map.get(key);
  if (list) list.push(id);
  else map.set(key, [id]);
}

function similarity(command: string[], display: string[], closeness: number): number {
  let lead = 0;
  while (lead < command.length && command[lead] === display[lead]) lead++;
  const shared = command.filter((w) => display.includes(w)).length;
  if (lead === 0 && shared === 0 && closeness < MIN_CLOSENESS) return 0;
  return lead * 4 + shared * 2 + closeness * 3;
}

/** Levenshtein distance (two rows). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
