/**
 * "Did you mean" suggestions with Python's `difflib.get_close_matches` semantics, which Errbot
 * uses for unknown commands: a Ratcliff/Obershelp similarity ratio, a 0.6 cutoff, best three.
 */

/**
 * `difflib.SequenceMatcher(None, a, b).ratio()`: 2·M/T, where M counts the characters in the
 * matching blocks found by repeatedly taking the longest common substring. Exact for inputs
 * under 200 characters (difflib's "autojunk" heuristic only applies from 200 on).
 */
export function similarity(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  const total = x.length + y.length;
  return total === 0 ? 1 : (2 * matchingCharacters(x, y)) / total;
}

function matchingCharacters(a: string[], b: string[]): number {
  let matched = 0;
  const queue: Array<[number, number, number, number]> = [[0, a.length, 0, b.length]];
  while (queue.length > 0) {
    const [alo, ahi, blo, bhi] = queue.pop()!;
    const [i, j, size] = longestMatch(a, b, alo, ahi, blo, bhi);
    if (size === 0) continue;
    matched += size;
    if (alo < i && blo < j) queue.push([alo, i, blo, j]);
    if (i + size < ahi && j + size < bhi) queue.push([i + size, ahi, j + size, bhi]);
  }
  return matched;
}

/** Longest common block; ties go to the earliest in `a`, then the earliest in `b` (difflib's rule). */
function longestMatch(a: string[], b: string[], alo: number, ahi: number, blo: number, bhi: number): [number, number, number] {
  let best: [number, number, number] = [alo, blo, 0];
  let prev = new Map<number, number>();
  for (let i = alo; i < ahi; i++) {
    const next = new Map<number, number>();
    for (let j = blo; j < bhi; j++) {
      if (a[i] !== b[j]) continue;
      const k = (prev.get(j - 1) ?? 0) + 1;
      next.set(j, k);
      if (k > best[2]) best = [i - k + 1, j - k + 1, k];
    }
    prev = next;
  }
  return best;
}

/**
 * `difflib.get_close_matches(word, candidates, n, cutoff)`: candidates scoring at least
 * `cutoff`, best first (ties: the greater string first, as difflib's heap does), at most `n`.
 */
export function closeMatches(word: string, candidates: readonly string[], n = 3, cutoff = 0.6): string[] {
  return candidates
    .map((c) => ({ c, score: similarity(c, word) }))
    .filter((m) => m.score >= cutoff)
    .sort((p, q) => q.score - p.score || (p.c < q.c ? 1 : p.c > q.c ? -1 : 0))
    .slice(0, n)
    .map((m) => m.c);
}
