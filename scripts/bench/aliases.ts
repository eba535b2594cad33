/**
 * Benchmark of the alias engine (src/st2/aliases): `bun scripts/bench/aliases.ts`.
 *
 * 1. Synthetic: 5,000 aliases × 3 representations (words, parameters, defaults, some regex,
 *    some starting with a parameter, a few match_multiple), 10,000 mixed commands
 *    (matching, not matching, ambiguous). Build time, RSS, per-match p50/p99/max.
 * 2. The real exchange aliases, with commands built from their own formats.
 */
import { heapStats } from "bun:jsc";
import { compileFormat } from "../../src/st2/aliases/format.ts";
import { AliasIndex, type MatchOutcome } from "../../src/st2/aliases/index.ts";
import { loadAliasFiles } from "../../src/st2/aliases/load.ts";
import { formatPatterns, type ActionAlias } from "../../src/st2/aliases/types.ts";
import { join } from "node:path";

const ALIASES = 5000;
const COMMANDS = 10000;
const EXCHANGE = join(import.meta.dir, "..", "..", "..", "shared", "reference", "st2", "exchange-aliases");

/** A small deterministic PRNG (mulberry32) so runs are comparable. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = rng(42);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;

const SYLLABLES = ["ka", "lo", "mi", "ne", "ra", "tu", "vo", "zi", "sha", "pre", "dex", "ion", "cor", "bly", "gan"];
const VERBS = ["get", "list", "show", "create", "delete", "restart", "deploy", "scale", "sync", "check", "run", "stop", "start", "open", "close"];
const NOUNS = ["vm", "host", "ticket", "incident", "service", "pool", "node", "release", "branch", "user", "group", "job", "alert", "backup", "zone"];
const PREPS = ["on", "in", "for", "to", "from", "with"];

function word(): string {
  return Array.from({ length: 2 + Math.floor(random() * 2) }, () => pick(SYLLABLES)).join("");
}

/** ~250 tools (first words), ~20 aliases each: first words repeat, as in real installs. */
function syntheticAliases(): ActionAlias[] {
  const tools = Array.from({ length: 250 }, word);
  const aliases: ActionAlias[] = [];
  for (let i = 0; i < ALIASES; i++) {
    const tool = tools[i % tools.length] ?? "tool";
    const verb = pick(VERBS);
    const noun = pick(NOUNS);
    const prep = pick(PREPS);
    const base = `${tool} ${verb} ${noun}${i}`;
    let reps = [`${base} {{name}}`, `${base} {{name}} ${prep} {{target}}`, `${base} {{name}} {{count=1}} with {{mode=fast}}`];
    const kind = random();
    if (kind < 0.04) reps = [`(${verb}|${verb.slice(0, 2)}) ${tool} ${noun}${i}s? {{name}}`, ...reps.slice(1)];
    else if (kind < 0.06) reps = [`{{name}} ${prep} ${tool} ${noun}${i}`, ...reps.slice(1)];
    else if (kind < 0.065) reps = [`(?:\\b|^)${noun}${i} (?P<key>[A-Z]+-[0-9]+)(?:\\b|$)`];
    const formats = kind >= 0.06 && kind < 0.065 ? [{ display: `${noun}${i} <KEY>`, representation: reps, match_multiple: true }] : [{ display: `${base} <name> [${prep} <target>]`, representation: reps }];
    aliases.push({ name: `a${i}`, pack: tool, ref: `${tool}.a${i}`, action_ref: `${tool}.act${i}`, enabled: true, formats } as ActionAlias);
  }
  // A few duplicated representations across aliases: cross-alias ambiguities.
  for (let i = 0; i < 50; i++) {
    const source = aliases[i * 97];
    if (source) aliases.push({ ...source, name: `dup${i}`, ref: `${source.pack}.dup${i}` });
  }
  return aliases;
}

function valueFor(name: string): string {
  const values: Record<string, () => string> = {
    name: () => pick(["web01", "db-2", '"two words"', "api", "x"]),
    target: () => pick(["prod", "staging", "eu-west-1"]),
    count: () => String(1 + Math.floor(random() * 9)),
    mode: () => pick(["fast", "safe"]),
  };
  return (values[name] ?? (() => "v"))();
}

function syntheticCommands(aliases: ActionAlias[]): string[] {
  const commands: string[] = [];
  const representations = aliases.flatMap((a) => formatPatterns(a.formats).map((p) => p.representation));
  while (commands.length < COMMANDS) {
    const r = random();
    if (r < 0.6) {
      // Built from a random representation (the 3-representation aliases make many of these
      // match both a short and a long form: the most-specific rule decides).
      const rep = pick(representations);
      let command = compileFormat(rep).exampleCommand((name) => valueFor(name));
      if (random() < 0.1) command += " extra=1";
      commands.push(command);
    } else if (r < 0.85) {
      // Near misses and noise.
      const rep = pick(representations);
      const example = compileFormat(rep).exampleCommand();
      commands.push(pick([`${word()} ${pick(VERBS)} ${pick(NOUNS)}`, example.replace(/^\S+/, word()), `${example.split(" ")[0]} nothing here`, "hello there"]));
    } else {
      // The duplicated aliases: ambiguous across aliases.
      const dup = pick(aliases.slice(ALIASES));
      const rep = formatPatterns(dup.formats)[0]?.representation ?? "";
      commands.push(compileFormat(rep).exampleCommand((name) => valueFor(name)));
    }
  }
  return commands;
}

interface Timing {
  p50: number;
  p99: number;
  max: number;
  mean: number;
  kinds: Record<string, number>;
}

/** Runs every command three times to warm up (JIT tiers), then times each match (µs). */
function time(index: AliasIndex, commands: string[], strict = false): Timing {
  for (let round = 0; round < 3; round++) for (const c of commands) index.match(c, { strict });
  // Collect the build's and warm-up's garbage now, not in the middle of the timings.
  Bun.gc(true);
  const samples: number[] = [];
  const kinds: Record<string, number> = {};
  for (const c of commands) {
    const start = Bun.nanoseconds();
    const outcome: MatchOutcome = index.match(c, { strict });
    samples.push((Bun.nanoseconds() - start) / 1000);
    const kind = outcome.kind === "match" && outcome.match.chosenAmong ? "match (most specific)" : outcome.kind;
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: samples[samples.length - 1] ?? 0, mean: samples.reduce((s, x) => s + x, 0) / samples.length, kinds };
}

function show(label: string, t: Timing): void {
  const f = (n: number) => n.toFixed(1).padStart(7);
  console.log(`  ${label.padEnd(24)} p50 ${f(t.p50)} µs   p99 ${f(t.p99)} µs   max ${f(t.max)} µs   mean ${f(t.mean)} µs`);
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

async function main(): Promise<void> {
  Bun.gc(true);
  const rssBefore = process.memoryUsage().rss;
  const aliases = syntheticAliases();
  Bun.gc(true);
  const rssData = process.memoryUsage().rss;
  const heapData = heapStats().heapSize;

  // Built before any command is generated: the commands come from compiled formats, and a
  // warm format cache would flatter the build time.
  const buildStart = performance.now();
  const index = new AliasIndex(aliases);
  const buildMs = performance.now() - buildStart;
  Bun.gc(true);
  const rssIndex = process.memoryUsage().rss;
  const heapIndex = heapStats().heapSize;
  const commands = syntheticCommands(aliases);

  console.log(`synthetic: ${aliases.length} aliases, ${aliases.reduce((n, a) => n + formatPatterns(a.formats).length, 0)} representations, ${commands.length} commands`);
  console.log(`  build                    ${buildMs.toFixed(0)} ms (cold: every format compiled, then cached)`);
  const rebuildStart = performance.now();
  new AliasIndex(aliases);
  console.log(`  rebuild (cache warm)     ${(performance.now() - rebuildStart).toFixed(0)} ms`);
  console.log(`  RSS                      ${mb(rssIndex)} total; index +${mb(rssIndex - rssData)}, of which JS heap +${mb(heapIndex - heapData)} (process before data ${mb(rssBefore)})`);
  console.log(`  problems                 ${index.problems.length}`);
  const t = time(index, commands);
  show("match", t);
  show("match --strict", time(index, commands, true));
  console.log(`  outcomes                 ${JSON.stringify(t.kinds)}`);
  Bun.gc(true);
  console.log(`  RSS after matching       ${mb(process.memoryUsage().rss)} (regexes of every tried format built)`);

  const misses = commands.filter((c) => index.match(c).kind === "none").slice(0, 200);
  const sStart = performance.now();
  for (const c of misses) {
    const o = index.match(c);
    if (o.kind === "none") void o.suggestions;
  }
  console.log(`  suggestions (on demand)  ${((performance.now() - sStart) / Math.max(1, misses.length)).toFixed(2)} ms per no-match`);

  const loaded = await loadAliasFiles([EXCHANGE]);
  const real = loaded.aliases;
  const rStart = performance.now();
  const realIndex = new AliasIndex(real);
  const rMs = performance.now() - rStart;
  const realCommands: string[] = [];
  for (const a of real) {
    for (const { representation } of formatPatterns(a.formats)) {
      try {
        const example = compileFormat(representation).exampleCommand();
        realCommands.push(example, `${example} k=v`, `please ${example}`, example.split(" ").slice(0, -1).join(" "));
      } catch {
        // a format StackStorm itself rejects (reported in problems)
      }
    }
  }
  console.log(`\nexchange: ${real.length} aliases from ${new Set(real.map((a) => a.pack)).size} packs, ${realCommands.length} commands, build ${rMs.toFixed(1)} ms, ${realIndex.problems.length} problems`);
  const rt = time(realIndex, realCommands);
  show("match", rt);
  console.log(`  outcomes                 ${JSON.stringify(rt.kinds)}`);
}

await main();
