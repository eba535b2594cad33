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
 * pick the few candidates. Representations that start with a parameter or a regex construct
 * sit in a fallback list, pre-filtered by a literal substring they require.
 */
import { compileFormat, compilePython, FormatError, prepareCommand, PY_SPACE } from "./format.ts";
import type { CompiledFormat, FormatHit, PreparedCommand, PyFlags, PyNode, PySeq } from "./format.ts";
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

/** One (alias, representation) pair StackStorm would try. */
interface Pattern {
  order: number;
  alias: ActionAlias;
  display: string;
  representation: string;
  matchMultiple: boolean;
  compiled: CompiledFormat;
  /** A substring every match needs ("" when none is known): a cheap pre-filter. */
  literal: string;
}

interface Hit {
  pattern: Pattern;
  hit: FormatHit;
}

/** Leading words deeper than this are not indexed (they rarely narrow further). */
const MAX_DEPTH = 4;
/** Alternatives such as `(show|sh) (ip|ipv4)` multiply; past this the pattern stays shallower. */
const MAX_PATHS = 32;

class TrieNode {
  readonly patterns: Pattern[] = [];
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
  /** Patterns with no leading word: always tried. */
  private readonly fallback: Pattern[] = [];
  /** Display-only entries (empty representation): only a blank command can match them. */
  private readonly blank: Pattern[] = [];
  size = 0;

  add(pattern: Pattern): void {
    this.size++;
    if (pattern.representation === "") {
      this.blank.push(pattern);
      return;
    }
    const paths = indexPaths(pattern.compiled);
    if (paths.length === 0) {
      this.fallback.push(pattern);
      return;
    }
    for (const path of paths) {
      let node = this.root;
      for (const word of path) node = node.child(word);
      node.patterns.push(pattern);
    }
  }

  /** Every hit among the candidates for this command, in StackStorm's order. */
  run(prepared: PreparedCommand, words: string[]): Hit[] {
    const hits: Hit[] = [];
    if (words.length === 0) tryAll(this.blank, prepared, hits);
    tryAll(this.fallback, prepared, hits);
    let node: TrieNode | undefined = this.root;
    for (const word of words) {
      node = node.children?.get(word);
      if (!node) break;
      tryAll(node.patterns, prepared, hits);
    }
    if (hits.length > 1) hits.sort((a, b) => a.pattern.order - b.pattern.order);
    return hits;
  }
}

function tryAll(patterns: readonly Pattern[], prepared: PreparedCommand, out: Hit[]): void {
  for (const pattern of patterns) {
    if (pattern.literal && !prepared.stream.includes(pattern.literal)) continue;
    const hit = pattern.compiled.run(prepared);
    if (hit) out.push({ pattern, hit });
  }
}

export class AliasIndex {
  readonly aliases: readonly ActionAlias[];
  /** Representations that cannot be used (skipped), with the reason. */
  readonly problems: AliasProblem[] = [];
  private readonly normal = new Pool();
  private readonly multi = new Pool();
  private readonly displays: SuggestEntry[] = [];

  constructor(aliases: readonly ActionAlias[]) {
    this.aliases = aliases.slice();
    let order = 0;
    for (const alias of this.aliases) {
      const enabled = isEnabled(alias);
      const patterns = this.compileAlias(alias, () => order++);
      if (!enabled) continue;
      this.addToPools(alias, patterns);
      for (const p of patterns) if (p.display || p.representation) this.displays.push(suggestEntry(p.display || p.representation));
    }
  }

  /** How many aliases the index was built from (enabled or not). */
  get size(): number {
    return this.aliases.length;
  }

  /** Matches a command the way StackStorm's `get_matching_alias` does (see the file header). */
  match(command: string, opts: { strict?: boolean } = {}): MatchOutcome {
    const prepared = prepareCommand(command);
    const words = leadingWords(prepared.stream, MAX_DEPTH);
    const strict = opts.strict === true;
    const normal = this.normal.run(prepared, words);
    if (normal.length > 0) return this.decide(normal, prepared, strict, false);
    const multi = this.multi.run(prepared, words);
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
      for (const format of alias.formats) {
        const { display } = normaliseFormat(format);
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
        patterns.push({ order, alias, ...entry, compiled, literal: requiredLiteral(compiled) });
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
      return { kind: "multiple", alias: pattern.alias, representation: pattern.representation, display: displayOf(pattern), hits };
    }
    const match = toMatch(chosen);
    if (among) match.chosenAmong = among.map((h) => h.pattern.representation);
    return { kind: "match", match };
  }

  private noMatch(command: string): MatchOutcome {
    const displays = this.displays;
    let cached: string[] | undefined;
    // Suggestions cost a scan of every display: computed only if someone reads them.
    return {
      kind: "none",
      message: `Command '${command}' matched no patterns`,
      get suggestions(): string[] {
        cached ??= suggest(command, displays);
        return cached;
      },
    };
  }
}

function refOf(alias: ActionAlias): string {
  return alias.ref || `${alias.pack}.${alias.name}`;
}

function displayOf(pattern: Pattern): string {
  return pattern.display || pattern.representation;
}

function toMatch({ pattern, hit }: Hit): Match {
  return { alias: pattern.alias, display: displayOf(pattern), representation: pattern.representation, params: hit.params };
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

/** The first `max` whitespace-separated words of the stream (Python's idea of whitespace). */
function leadingWords(stream: string, max: number): string[] {
  const words: string[] = [];
  let start = -1;
  for (let i = 0; i <= stream.length && words.length < max; i++) {
    const ch = stream[i];
    const space = ch === undefined || PY_SPACE.has(ch);
    if (space && start >= 0) {
      words.push(stream.slice(start, i));
      start = -1;
    } else if (!space && start < 0) start = i;
  }
  return words;
}

// ---------------------------------------------------------------------------------------
// What a representation requires of a command (read from its parsed regex)
// ---------------------------------------------------------------------------------------

type Node = PyNode;

function isSpaceCp(cp: number): boolean {
  return cp <= 0xffff && PY_SPACE.has(String.fromCharCode(cp));
}

/** A node that only ever matches whitespace; `min` is how many characters it needs. */
function spaceNode(n: Node | undefined): { min: number } | null {
  if (!n) return null;
  if (n.t === "lit") return isSpaceCp(n.cp) ? { min: 1 } : null;
  if (n.t === "set") {
    if (n.neg) return null;
    const ok = n.items.every((i) => (i.k === "cat" ? i.cat === "s" : i.k === "cp" ? isSpaceCp(i.cp) : false));
    return ok ? { min: 1 } : null;
  }
  if (n.t === "repeat") {
    const inner = spaceNode(n.body);
    return inner ? { min: n.min * inner.min } : null;
  }
  return null;
}

function isEndAnchor(n: Node | undefined, flags: PyFlags): boolean {
  return n?.t === "at" && (n.at === "eos" || (n.at === "eol" && !flags.m));
}

/** The alternatives of a word slot: a run of literal characters, or a group of such runs. */
function readSlot(seq: PySeq, i: number): { words: string[]; next: number } | null {
  const n = seq[i];
  if (n?.t === "lit" && !isSpaceCp(n.cp)) {
    let word = "";
    let j = i;
    for (let m = seq[j]; m?.t === "lit" && !isSpaceCp(m.cp); m = seq[++j]) word += String.fromCodePoint(m.cp);
    return { words: [word], next: j };
  }
  if (n?.t === "group" && !n.on.i && !n.off.i) {
    const only = n.body[0];
    const branches = n.body.length === 1 && only?.t === "alt" ? only.branches : [n.body];
    const words: string[] = [];
    for (const b of branches) {
      if (b.length === 0 || !b.every((c) => c.t === "lit" && !isSpaceCp(c.cp))) return null;
      words.push(b.map((c) => String.fromCodePoint((c as { cp: number }).cp)).join(""));
    }
    return { words: [...new Set(words)], next: i + 1 };
  }
  return null;
}

type AfterSlot = { kind: "end" } | { kind: "sep"; next: number } | { kind: "glued" };

/** What follows a word: whitespace then more (a boundary), the end, or more word characters. */
function afterSlot(seq: PySeq, i: number, flags: PyFlags): AfterSlot {
  let boundary = false;
  let j = i;
  for (let s = spaceNode(seq[j]); s; s = spaceNode(seq[++j])) if (s.min > 0) boundary = true;
  if (j >= seq.length) return boundary ? { kind: "end" } : { kind: "glued" };
  if (isEndAnchor(seq[j], flags) && seq.slice(j).every((n) => isEndAnchor(n, flags) || spaceNode(n))) return { kind: "end" };
  return boundary ? { kind: "sep", next: j } : { kind: "glued" };
}

/**
 * The leading words every match of this regex must start with, as trie paths. Only for a
 * regex anchored at the start (`^\s*`, added by StackStorm or the format's own) whose first
 * items are literal words each ending in whitespace or the end; case-insensitive or
 * multi-line patterns, and anything else, get [] (the fallback list).
 */
function indexPaths(compiled: CompiledFormat): string[][] {
  const { ast, flags } = compiled.regex.parsed;
  if (flags.i || flags.m) return [];
  const first = ast[0];
  if (first?.t !== "at" || (first.at !== "bol" && first.at !== "bos")) return [];
  let i = 1;
  while (i < ast.length && spaceNode(ast[i])) i++;
  const slots: string[][] = [];
  let paths = 1;
  while (slots.length < MAX_DEPTH) {
    const slot = readSlot(ast, i);
    if (!slot || paths * slot.words.length > MAX_PATHS) break;
    const after = afterSlot(ast, slot.next, flags);
    if (after.kind === "glued") break;
    slots.push(slot.words);
    paths *= slot.words.length;
    if (after.kind === "end") break;
    i = after.next;
  }
  return expand(slots);
}

function expand(slots: string[][]): string[][] {
  if (slots.length === 0) return [];
  let paths: string[][] = [[]];
  for (const words of slots) paths = paths.flatMap((p) => words.map((w) => [...p, w]));
  return paths;
}

/** The longest run of literal characters at the top level: every match contains it. */
function requiredLiteral(compiled: CompiledFormat): string {
  const { ast, flags } = compiled.regex.parsed;
  if (flags.i) return "";
  let best = "";
  let run = "";
  for (const n of ast) {
    if (n.t === "lit") {
      run += String.fromCodePoint(n.cp);
      continue;
    }
    if (run.length > best.length) best = run;
    run = "";
  }
  return run.length > best.length ? run : best;
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

interface SuggestEntry {
  display: string;
  /** Lower-case plain words of the display (placeholders dropped). */
  words: string[];
}

const PLACEHOLDER = /[{}<>[\]()|]/;

function suggestEntry(display: string): SuggestEntry {
  const words = display
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w && !PLACEHOLDER.test(w));
  return { display, words };
}

/**
 * Up to `limit` displays closest to the command: leading words in common count most, then
 * words shared anywhere, then how close the first words are (edit distance).
 */
function suggest(command: string, entries: readonly SuggestEntry[], limit = 3): string[] {
  const words = leadingWords(` ${prepareCommand(command).stream} `, MAX_DEPTH).map((w) => w.toLowerCase());
  const head = words[0];
  if (!head) return [];
  const scored: { display: string; score: number }[] = [];
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.display)) continue;
    seen.add(e.display);
    const score = similarity(words, e.words);
    if (score > 0) scored.push({ display: e.display, score });
  }
  scored.sort((a, b) => b.score - a.score);
  return scored.slice(0, limit).map((s) => s.display);
}

function similarity(command: string[], display: string[]): number {
  let lead = 0;
  while (lead < command.length && command[lead] === display[lead]) lead++;
  const shared = command.filter((w) => display.includes(w)).length;
  const a = command[0] ?? "";
  const b = display[0] ?? "";
  const closeness = a && b ? 1 - editDistance(a, b) / Math.max(a.length, b.length) : 0;
  if (lead === 0 && shared === 0 && closeness < 0.7) return 0;
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
