/**
 * Edit distance for "did you mean" everywhere (chat commands, config keys): one function, so
 * every suggestion st2bot makes counts typos the same way.
 */

/**
 * The optimal-string-alignment distance between `a` and `b`: insertions, deletions,
 * substitutions and swaps of two neighbouring characters each cost 1 (`deplyo` → `deploy`
 * is 1, where plain Levenshtein says 2). Counts code points, not UTF-16 units.
 *
 * With `max`, the answer is exact up to `max` and `max + 1` beyond it, and the work stops
 * as soon as that is certain: callers comparing against many candidates pass their cutoff.
 * Cost O(|a|·|b|) at most; callers bound the lengths of what they compare.
 */
export function editDistance(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  const x = Array.from(a);
  const y = Array.from(b);
  if (Math.abs(x.length - y.length) > max) return max + 1;
  if (x.length === 0 || y.length === 0) return Math.min(Math.max(x.length, y.length), max + 1);
  let before: number[] = [];
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) d = Math.min(d, (before[j - 2] ?? 0) + 1);
      row[j] = d;
      if (d < best) best = d;
    }
    // Every later row is at least this row's minimum.
    if (best > max) return max + 1;
    before = prev;
    prev = row;
  }
  return Math.min(prev[y.length] ?? 0, max + 1);
}
