/**
 * Where the alias index files its representations so a command tries only a few of them:
 * a trie of leading literal words, a map from a word needed elsewhere, a list always tried.
 * One `Pool` per StackStorm matching pass (normal and match_multiple).
 */
import type { PreparedCommand } from "./command.ts";
import { FormatError, type CompiledFormat, type FormatHit } from "./format.ts";
import { MAX_INDEXED_DEPTH } from "./hints.ts";
import type { AliasProblem } from "./outcome.ts";
import type { ActionAlias } from "./types.ts";
import { containsInOrder } from "./words.ts";

/** One (alias, representation) pair StackStorm would try (the representation is `compiled.format`). */
export interface Pattern {
  /** Its place in StackStorm's trying order (alias order, then format order). */
  order: number;
  /** The alias it belongs to. */
  alias: ActionAlias;
  /** The format entry's display ("" when it has none). */
  display: string;
  /** Whether the format entry is `match_multiple`. */
  matchMultiple: boolean;
  /** The representation, compiled. */
  compiled: CompiledFormat;
  /** Set when JavaScript refused the translated regex on first use: never tried again. */
  dead?: boolean;
}

/** One representation that matched, with what its regex captured. */
export interface Hit {
  /** The representation that matched. */
  pattern: Pattern;
  /** What its regex captured. */
  hit: FormatHit;
}

/** One word of the trie: the patterns whose leading words end here, and the next words. */
class TrieNode {
  /** Patterns filed at this node (most inner nodes have none: allocated when needed). */
  patterns: Pattern[] | undefined;
  children: Children | undefined;

  child(word: string): TrieNode {
    this.children ??= new Children();
    let node = this.children.get(word);
    if (!node) {
      node = new TrieNode();
      this.children.set(ownString(word), node);
    }
    return node;
  }
}

const NO_KEYS: object = Object.freeze(Object.create(null));

/**
 * `word` standing on its own: a slice of a longer string (the packed paths) keeps that whole
 * string alive in JavaScriptCore until something resolves it; a property-key lookup does.
 */
function ownString(word: string): string {
  void (word in NO_KEYS);
  return word;
}

/** Up to this many children are scanned in order; up to MANY_CHILDREN, halved; more go to a Map. */
const FEW_CHILDREN = 8;
const MANY_CHILDREN = 64;

/**
 * A trie node's next words. Most nodes have a handful, some a few dozen: a flat list sorted
 * by word (word, node, word, node…), scanned or halved, takes an eighth of a Map's memory at
 * that size (a Map of 20 words held 2.6 KB) and is about as fast to look up. A node with
 * more words (the first words of a large install) gets a Map.
 */
class Children {
  private sorted: (string | TrieNode)[] | undefined = [];
  private many: Map<string, TrieNode> | undefined;

  get(word: string): TrieNode | undefined {
    const list = this.sorted;
    if (!list) return this.many?.get(word);
    if (list.length <= 2 * FEW_CHILDREN) {
      for (let i = 0; i < list.length; i += 2) if (list[i] === word) return list[i + 1] as TrieNode;
      return undefined;
    }
    const i = this.search(list, word);
    return list[i] === word ? (list[i + 1] as TrieNode) : undefined;
  }

  /** Adds a word not there yet. */
  set(word: string, node: TrieNode): void {
    const list = this.sorted;
    if (!list) {
      this.many!.set(word, node);
      return;
    }
    if (list.length < 2 * MANY_CHILDREN) {
      list.splice(this.search(list, word), 0, word, node);
      return;
    }
    this.many = new Map();
    for (let i = 0; i < list.length; i += 2) this.many.set(list[i] as string, list[i + 1] as TrieNode);
    this.many.set(word, node);
    this.sorted = undefined;
  }

  forEach(fn: (node: TrieNode, word: string) => void): void {
    const list = this.sorted;
    if (list) for (let i = 0; i < list.length; i += 2) fn(list[i + 1] as TrieNode, list[i] as string);
    else this.many?.forEach(fn);
  }

  /** Where `word` is or would go in the sorted list (an even index). */
  private search(list: (string | TrieNode)[], word: string): number {
    let lo = 0;
    let hi = list.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((list[2 * mid] as string) < word) lo = mid + 1;
      else hi = mid;
    }
    return 2 * lo;
  }
}

/** The patterns of one matching pass (StackStorm runs a normal and a match_multiple pass). */
export class Pool {
  private readonly root = new TrieNode();
  /** Patterns with no leading word but a word they need elsewhere, by that word. */
  private readonly byWord = new Map<string, Pattern[]>();
  /** Patterns with neither: always tried. */
  private readonly fallback: Pattern[] = [];
  /** Display-only entries (empty representation): only a blank command can match them. */
  private readonly blank: Pattern[] = [];
  /** The last packed paths filed, and their nodes. */
  private lastPaths = "";
  private lastNodes: TrieNode[] = [];

  /**
   * Files a pattern under its leading words, else a word it needs, else the always-tried list
   * (`format`: its representation; `filing`: the format's index hints, so filing compiles nothing).
   */
  add(pattern: Pattern, format: string, filing: { paths: string; word: string }): void {
    if (format === "") {
      this.blank.push(pattern);
      return;
    }
    const { paths, word } = filing;
    if (paths === "") {
      if (!word) this.fallback.push(pattern);
      else {
        const list = this.byWord.get(word);
        if (list) list.push(pattern);
        else this.byWord.set(word, [pattern]);
      }
      return;
    }
    // An alias's representations mostly share their leading words: filed where the last went.
    if (paths !== this.lastPaths) {
      this.lastPaths = paths;
      this.lastNodes = this.nodesFor(paths);
    }
    for (const node of this.lastNodes) (node.patterns ??= []).push(pattern);
  }

  /** The trie nodes of packed paths (as in IndexHints, see filing.ts), made where missing. */
  private nodesFor(paths: string): TrieNode[] {
    const nodes: TrieNode[] = [];
    for (let start = 0; start <= paths.length; ) {
      let end = paths.indexOf("\n", start);
      if (end < 0) end = paths.length;
      let node = this.root;
      for (let w = start; w < end; ) {
        let space = paths.indexOf(" ", w);
        if (space < 0 || space > end) space = end;
        node = node.child(paths.slice(w, space));
        w = space + 1;
      }
      nodes.push(node);
      start = end + 1;
    }
    return nodes;
  }

  /**
   * Calls `fn` for each filed pattern with where it is filed: once per leading-word path, or
   * with the word it is filed under, or with neither (always tried, blank). A rebuild of the
   * index reads the filings back from here instead of compiling every format again.
   */
  eachFiling(fn: (pattern: Pattern, path: readonly string[] | undefined, word: string) => void): void {
    for (const p of this.blank) fn(p, undefined, "");
    for (const p of this.fallback) fn(p, undefined, "");
    for (const [word, list] of this.byWord) for (const p of list) fn(p, undefined, word);
    const walk = (node: TrieNode, path: string[]): void => {
      if (node.patterns) for (const p of node.patterns) fn(p, path, "");
      node.children?.forEach((child, word) => walk(child, [...path, word]));
    };
    walk(this.root, []);
  }

  /** The patterns whose leading literal words are exactly `words` (none past the indexed depth). */
  filedAt(words: string[]): readonly Pattern[] {
    if (words.length === 0 || words.length > MAX_INDEXED_DEPTH) return [];
    let node: TrieNode | undefined = this.root;
    for (const word of words) node = node?.children?.get(word);
    return node?.patterns ?? [];
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

/** Runs each live pattern whose required literals appear in order; a regex JavaScript refuses is retired. */
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

/** The alias's `pack.name`, for problem reports. */
export function refOf(alias: ActionAlias): string {
  return alias.ref || `${alias.pack}.${alias.name}`;
}

/** The help text of a pattern: its display, else its representation. */
export function displayOf(pattern: Pattern): string {
  return pattern.display || pattern.compiled.format;
}
