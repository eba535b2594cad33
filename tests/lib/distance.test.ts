import { describe, expect, test } from "bun:test";
import { editDistance } from "../../src/lib/distance.ts";
import { Rng } from "../support/prng.ts";

/** Textbook optimal-string-alignment distance, full table, no cutoff: the oracle. */
function osa(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  const d = Array.from({ length: x.length + 1 }, (_, i) => Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[x.length]![y.length]!;
}

describe("editDistance", () => {
  test("known values", () => {
    expect(editDistance("deplyo", "deploy")).toBe(1); // a swap is one edit
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("😀a", "a😀")).toBe(1); // code points, not UTF-16 units
    expect(editDistance("status of", "duplicate of")).toBeGreaterThan(4);
  });

  test("matches the full table on generated strings, with and without a cutoff", () => {
    const rng = new Rng(99);
    const letters = ["a", "b", "c", " ", "é", "😀"];
    const word = () => Array.from({ length: rng.int(9) }, () => rng.pick(letters)).join("");
    for (let i = 0; i < 3000; i++) {
      const a = word();
      const b = word();
      const exact = osa(a, b);
      const max = rng.int(6);
      expect([a, b, editDistance(a, b)]).toEqual([a, b, exact]);
      expect([a, b, max, editDistance(a, b, max)]).toEqual([a, b, max, Math.min(exact, max + 1)]);
    }
  });
});
