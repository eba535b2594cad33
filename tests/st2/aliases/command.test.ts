/**
 * The linear trailing-pairs scanner against the regexes it replaces: StackStorm's own
 * `.*?((PAIRS\s*)*)$` and `findall(PAIRS)`, run here (as before the fix) through the Python
 * regex translator. The oracle below is the previous implementation, kept only in this file.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { prepareCommand, type PreparedCommand } from "../../../src/st2/aliases/command.ts";
import { joinGroups } from "../../../src/st2/aliases/snippets.ts";
import { compilePython } from "../../../src/st2/aliases/pyregex/emit.ts";
import { isBlank, PY_SPACE } from "../../../src/st2/aliases/words.ts";
import { Rng } from "../../support/prng.ts";
import { REFERENCE_DIR } from "../../support/reference.ts";

// ---- The oracle: the implementation before the fix (exponential on runs of pairs) ----
const KEY = String.raw`\s*(\S+?)\s*`;
const VALUE = String.raw`""|\'\'|"(.+?)"|\'(.+?)\'|({.+?})|(\S+)`;
const PAIRS = String.raw`(?:^|\s+)${KEY}=(${VALUE})`;
const endingTail = compilePython(String.raw`((${PAIRS}\s*)*)$`, { s: true }, "y").regex;
const pairsRe = compilePython(PAIRS, { s: true }, "g").regex;

function oldEndingPairs(command: string): string {
  const lastEquals = command.lastIndexOf("=");
  if (lastEquals < 0) return "";
  for (let p = 0; p < lastEquals; p++) {
    if (p > 0 && !(PY_SPACE.has(command[p] ?? "") && !PY_SPACE.has(command[p - 1] ?? ""))) continue;
    endingTail.lastIndex = p;
    const m = endingTail.exec(command);
    if (m) return m[1] ?? "";
  }
  return "";
}

function oldPrepare(command: string): PreparedCommand {
  const pairsText = oldEndingPairs(command);
  const pairs: [string, string][] = [];
  let stream = command;
  if (pairsText) {
    pairsRe.lastIndex = 0;
    for (let m = pairsRe.exec(pairsText); m; m = pairsRe.exec(pairsText)) pairs.push([m[1] ?? "", joinGroups(m, 3, 6)]);
    stream = command.split(pairsText).join("");
  }
  return { command, stream: ` ${stream} `, pairs, pairsText, blank: isBlank(stream) };
}
// ---- end of the oracle ----

/** Pieces that make pairs, near-pairs, quotes, braces and every whitespace class likely. */
const PIECES = [
  "a", "b", "k", "x1", "é", "😀", "=", "==", "a=b", "k=v", "x=", "=y", " ", " ", "  ", "\t", "\n", "\r\n",
  "\u0085", "\u00a0", "\u2028", "\u3000", "\x1c", "\ufeff", "\u200b", '"', "'", "{", "}", '""', "''", '"a b"', "'c d'",
  '{"h": 1}', 'k="v w"', "k='v'", "k={x}", 'k=""', "k=''", "k= v", "k =v", '"=', "=\"", "\\",
];

function generate(rng: Rng, maxPieces: number): string {
  let out = "";
  for (let n = rng.int(maxPieces + 1); n > 0; n--) out += rng.pick(PIECES);
  return out;
}

function same(command: string): void {
  const got = prepareCommand(command);
  const want = oldPrepare(command);
  expect({ command, pairsText: got.pairsText, pairs: got.pairs, stream: got.stream, blank: got.blank }).toEqual({
    command,
    pairsText: want.pairsText,
    pairs: want.pairs,
    stream: want.stream,
    blank: want.blank,
  });
}

describe("trailing pairs: linear scanner = StackStorm's regexes", () => {
  test("6,000 generated commands (seeded)", () => {
    const rng = new Rng(20261205);
    // Small enough for the exponential oracle: at most ~8 pieces.
    for (let i = 0; i < 6000; i++) same(generate(rng, 8));
  });

  test("generated runs of pairs with junk between and after", () => {
    const rng = new Rng(7);
    for (let i = 0; i < 1500; i++) {
      let command = generate(rng, 3);
      for (let n = rng.int(6); n > 0; n--) command += rng.pick([" ", "  ", "\t", "\u0085", "\u00a0"]) + rng.pick(["k=v", 'a="b c"', "x='y'", "j={1 2}", 'e=""', "=", "z"]);
      same(command + rng.pick(["", " ", "\n", " y", '"', "}"]));
    }
  });

  test("every command of alias-parse.json", () => {
    const { cases } = JSON.parse(readFileSync(`${REFERENCE_DIR}/vectors/alias-parse.json`, "utf8")) as { cases: { command: string }[] };
    expect(cases.length).toBeGreaterThan(10);
    for (const c of cases) same(c.command);
  });

  test("hand-picked corners", () => {
    for (const command of [
      "", "=", "a=", "=b", "a=b", " a=b", "a=b\n", "a=b\n\n", "x a=b", "x a=b c", 'x a="b', 'x a="b c" d', 'x a="" b=c',
      "x a='b' 'c'", "x k={a} }", "x k={} v", 'x k=""" y', "x k==v", "x k = v", "x k=\u0085v", "x\u0085k=v", "x\ufeffk=v",
      'x k="a" "', "foo x=1 bar x=1", 'run a="b c" d=\'e f\' g={"h": 1} i="" j=k',
    ]) same(command);
  });
});

describe("trailing pairs: bounded time", () => {
  test("the reported command and long runs of pairs finish at once", () => {
    // The reported 72 characters took about a minute before the fix; 500 pairs now are linear.
    const reported = `x a="b"  a="b"  a="b"  a="b"  a="b"  a="b"  a="b"  a="b" y`;
    expect(prepareCommand(reported).pairs).toEqual([]);
    const long = `x ${'a="b"  '.repeat(500)}y`;
    expect(prepareCommand(long).pairsText).toBe("");
    const valid = `x ${'a="b" '.repeat(500)}`;
    expect(prepareCommand(valid).pairs.length).toBe(500);
    const spaces = `x k="v"${" ".repeat(4000)}"`;
    expect(prepareCommand(spaces).pairs).toEqual([["k", "v"]]);
  });
});
