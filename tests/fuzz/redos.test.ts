/**
 * No chat line can freeze the bot: adversarial commands (tests/fuzz/adversarial.ts) against
 * the 198 real aliases of ../shared/reference/st2/exchange-aliases, each within a small
 * budget relative to a normal command measured here, on this machine, in this run. Before
 * the fix one 72-character command of this kind kept the event loop busy for a minute.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { AliasIndex } from "../../src/st2/aliases/index.ts";
import { loadAliasFiles } from "../../src/st2/aliases/load.ts";
import { REFERENCE_DIR } from "../support/reference.ts";
import { adversarial, examples, heads } from "./adversarial.ts";

/** How many normal commands' time one adversarial command may take (generous: 100-500 is typical). */
const FACTOR = 2000;

describe("adversarial commands against the real aliases", () => {
  let index: AliasIndex;
  let normal: string[];
  beforeAll(async () => {
    const { aliases } = await loadAliasFiles([`${REFERENCE_DIR}/st2/exchange-aliases`]);
    expect(aliases.length).toBe(198);
    index = new AliasIndex(aliases);
    normal = examples(aliases);
  });

  /** Everything a chat line costs before the reply: match, then suggestions and incomplete hints. */
  const handle = (command: string) => {
    const o = index.match(command);
    if (o.kind === "none") void [o.suggestions, o.incomplete];
  };
  const timed = (command: string) => {
    const started = performance.now();
    handle(command);
    return performance.now() - started;
  };

  test("every command stays within its budget", () => {
    for (const c of normal) handle(c); // warm up the regexes and the suggestion index
    const started = performance.now();
    for (const c of normal) handle(c);
    const perNormal = (performance.now() - started) / normal.length;
    const budget = Math.max(perNormal, 0.02) * FACTOR;
    const over: string[] = [];
    let count = 0;
    for (const command of adversarial(heads(normal))) {
      count++;
      // A single slow reading can be a GC pause: the best of three decides.
      if (timed(command) > budget && Math.min(timed(command), timed(command)) > budget) over.push(JSON.stringify(command.slice(0, 80)));
    }
    expect(count).toBeGreaterThan(5000);
    expect({ budgetMs: budget, over }).toEqual({ budgetMs: budget, over: [] });
  }, 120_000);

  test("the reported command and its longer relatives", () => {
    // Each extra pair doubled the old cost; 8 pairs (72 characters) took about a minute.
    for (let pairs = 8; pairs <= 128; pairs *= 2) expect(index.match(`x ${'a="b"  '.repeat(pairs)}y`).kind).toBe("none");
    expect(index.match(`x ${'a="b"  '.repeat(400)}y`).kind).toBe("too-long");
    // As trailing pairs they are cut off in linear time and may fill the whole command.
    expect(index.match(`x ${'a="b"  '.repeat(400)}`).kind).toBe("none");
  });
});
