/**
 * Worst-case time of one chat command, before and after the ReDoS fix (issue 10.1):
 * `bun scripts/bench/redos.ts`.
 *
 * 1. Trailing `key=value` pairs: StackStorm's `.*?((PAIRS\s*)*)$` on the backtracking engine
 *    (the implementation before the fix, copied here) against the linear scanner, on the
 *    reported command with more and more pairs. The old cost doubles per pair, so it is
 *    measured up to a few seconds and the rest extrapolated.
 * 2. `!st2help (.|.)*!`: the filter compiled as a regex (before) or read as text (after).
 * 3. Every adversarial command of tests/fuzz/adversarial.ts against the 198 real aliases:
 *    the worst and p99 time of match + suggestions, at today's bounds, and what the worst
 *    would be if the format regexes ran on 4,096 characters instead of 1,024.
 */
import { join } from "node:path";
import { prepareCommand } from "../../src/st2/aliases/command.ts";
import { compileFormat } from "../../src/st2/aliases/format.ts";
import { AliasIndex, MAX_MATCHED_LENGTH } from "../../src/st2/aliases/index.ts";
import { loadAliasFiles } from "../../src/st2/aliases/load.ts";
import { compilePython } from "../../src/st2/aliases/pyregex/emit.ts";
import { PY_SPACE } from "../../src/st2/aliases/words.ts";
import { adversarial, BAITS, examples, fill, heads } from "../../tests/fuzz/adversarial.ts";

const EXCHANGE = join(import.meta.dir, "..", "..", "..", "shared", "reference", "st2", "exchange-aliases");
const ms = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(1)} s` : `${n.toFixed(n < 1 ? 3 : 1)} ms`);
const time = (fn: () => unknown) => {
  const started = performance.now();
  fn();
  return performance.now() - started;
};

// ---- 1. trailing pairs: the old regex (copied from before the fix) against the scanner ----
const PAIRS = String.raw`(?:^|\s+)\s*(\S+?)\s*=(""|\'\'|"(.+?)"|\'(.+?)\'|({.+?})|(\S+))`;
const endingTail = compilePython(String.raw`((${PAIRS}\s*)*)$`, { s: true }, "y").regex;
function oldEndingPairs(command: string): string {
  const lastEquals = command.lastIndexOf("=");
  for (let p = 0; p < lastEquals; p++) {
    if (p > 0 && !(PY_SPACE.has(command[p] ?? "") && !PY_SPACE.has(command[p - 1] ?? ""))) continue;
    endingTail.lastIndex = p;
    const m = endingTail.exec(command);
    if (m) return m[1] ?? "";
  }
  return "";
}

console.log("1. Trailing pairs, the reported command `x a=\"b\"  a=\"b\" … y` (once per command; the old code ran it up to 3 times)");
let last = 0;
let lastPairs = 0;
for (let pairs = 2; pairs <= 12; pairs++) {
  const command = `x ${'a="b"  '.repeat(pairs)}y`;
  last = time(() => oldEndingPairs(command));
  lastPairs = pairs;
  console.log(`   ${String(pairs).padStart(3)} pairs (${command.length} chars): before ${ms(last).padStart(9)}   after ${ms(time(() => prepareCommand(command)))}`);
  if (last > 2000) break;
}
for (const pairs of [8, 100, 500]) {
  const command = `x ${'a="b"  '.repeat(pairs)}y`;
  // Each pair at least doubled the old time: past a dozen pairs it would not finish in a lifetime.
  const before = `> ${ms(last)} × 2^${pairs - lastPairs}`;
  if (pairs > lastPairs) console.log(`   ${String(pairs).padStart(3)} pairs (${command.length} chars): before ${before} (not run)   after ${ms(time(() => prepareCommand(command)))}`);
}

// ---- 2. the help filter ----
const { aliases } = await loadAliasFiles([EXCHANGE]);
const index = new AliasIndex(aliases);
const displays = index.help().helpstrings.map((h) => h.display);
console.log(`\n2. !st2help (.|.)*! over the ${displays.length} displays of the ${aliases.length} real aliases`);
const filterRe = compilePython("(.|.)*!", { i: true }).regex;
let checked = 0;
const spent = time(() => {
  const started = performance.now();
  for (const d of displays) {
    filterRe.test(d);
    checked++;
    if (performance.now() - started > 3000) break;
  }
});
const perDisplay = spent / checked;
console.log(`   before (regex): ${ms(perDisplay * displays.length)}${checked < displays.length ? ` (extrapolated from ${checked} displays)` : ""}`);
console.log(`   after (text):   ${ms(time(() => index.help({ filter: "(.|.)*!" })))}`);

// ---- 3. adversarial commands against the real aliases ----
const normal = examples(aliases);
const handle = (c: string) => {
  const o = index.match(c);
  if (o.kind === "none") void [o.suggestions, o.incomplete];
};
for (const c of normal) handle(c);
const perNormal = time(() => normal.forEach(handle)) / normal.length;
const worstOf = (commands: Iterable<string>) => {
  const times: number[] = [];
  let worst = { t: 0, c: "" };
  for (const c of commands) {
    handle(c);
    const t = time(() => handle(c));
    times.push(t);
    if (t > worst.t) worst = { t, c };
  }
  times.sort((a, b) => a - b);
  return { n: times.length, p99: times[Math.floor(times.length * 0.99)] ?? 0, worst };
};
const after = worstOf(adversarial(heads(normal)));
console.log(`\n3. Adversarial commands against the ${aliases.length} real aliases (match + suggestions)`);
console.log(`   a normal command:        ${ms(perNormal)}`);
console.log(`   ${after.n} adversarial: p99 ${ms(after.p99)}, worst ${ms(after.worst.t)} (${Math.round(after.worst.t / perNormal)}× normal) ${JSON.stringify(after.worst.c.slice(0, 50))}…`);
// What the matched-length bound buys: the same baits on 4,096 characters, straight to each
// format regex whose own leading words start the command (what the index would have tried).
let wide = { t: 0, c: "", f: "" };
for (const alias of aliases) {
  for (const f of alias.formats ?? []) {
    const format = typeof f === "string" ? f : f.representation?.[0];
    if (!format) continue;
    let compiled: ReturnType<typeof compileFormat>;
    try {
      compiled = compileFormat(format);
      void compiled.regex;
    } catch {
      continue;
    }
    const words = compiled.exampleCommand().split(" ");
    for (const head of new Set([`${words[0]} `, `${words.slice(0, -1).join(" ")} `])) {
      for (const bait of BAITS) {
        const prepared = prepareCommand(fill(head, bait, 4 * MAX_MATCHED_LENGTH));
        const t = time(() => compiled.run(prepared));
        if (t > wide.t) wide = { t, c: prepared.command, f: format };
      }
    }
  }
}
console.log(`   without the ${MAX_MATCHED_LENGTH}-character bound (4,096 to the regexes): one format alone took ${ms(wide.t)}: ${JSON.stringify(wide.f)} on ${JSON.stringify(wide.c.slice(0, 40))}…`);
