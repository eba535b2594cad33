/**
 * How the alias index keeps its representations (src/st2/aliases/filing.ts, pool.ts): compiled
 * only when a command tries them, filed again without compiling when the index is rebuilt, and
 * found through the trie at every fan-out (flat list, halved list, Map). Verdicts are compared
 * with StackStorm's algorithm run over every representation.
 */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { prepareCommand } from "../../../src/st2/aliases/command.ts";
import { compileFormat, type CompiledFormat } from "../../../src/st2/aliases/format.ts";
import { FiledPattern } from "../../../src/st2/aliases/filing.ts";
import { AliasIndex, type MatchOutcome } from "../../../src/st2/aliases/index.ts";
import { ActionAliasSchema, formatPatterns, type ActionAlias } from "../../../src/st2/aliases/types.ts";

function alias(name: string, formats: unknown[]): ActionAlias {
  return v.parse(ActionAliasSchema, { name, pack: "filing", action_ref: `filing.${name}`, formats });
}

/** Every filed pattern of the index (each once), with whether it is compiled yet. */
function filed(index: AliasIndex): FiledPattern[] {
  const out = new Set<FiledPattern>();
  for (const pool of index.pools()) pool.eachFiling((p) => out.add(p as FiledPattern));
  return [...out];
}

/** StackStorm's verdict: every representation of every alias tried, in order. */
function everyPattern(aliases: ActionAlias[], command: string): string[] {
  const prepared = prepareCommand(command);
  const hits: string[] = [];
  for (const a of aliases) {
    for (const p of formatPatterns(a.formats)) if (compileFormat(p.representation).run(prepared)) hits.push(`${a.name}: ${p.representation}`);
  }
  return hits;
}

function hits(o: MatchOutcome): string[] {
  if (o.kind === "match") return [`${o.match.alias.name}: ${o.match.representation}`];
  if (o.kind === "ambiguous") return o.candidates.map((c) => `${c.alias.name}: ${c.representation}`);
  return [];
}

/** Formats no other test uses, so the process-wide format cache has never seen them. */
const unique = (tag: string, n: number) =>
  Array.from({ length: n }, (_, i) => alias(`${tag}${i}`, [{ display: `${tag}${i} go`, representation: [`${tag}${i} go {{x}}`, `${tag}${i} go {{x}} to {{y=here}}`] }]));

describe("representations are compiled when a command first tries them", () => {
  test("a new index holds no compiled representation; a match compiles only its candidates", () => {
    const aliases = unique("lazyone", 50);
    const index = new AliasIndex(aliases);
    const patterns = filed(index);
    expect(patterns).toHaveLength(100);
    expect(patterns.filter((p) => p.compiledIfAny)).toEqual([]);
    const o = index.match("lazyone7 go web to prod", { strict: true });
    expect(hits(o)).toEqual(["lazyone7: lazyone7 go {{x}}", "lazyone7: lazyone7 go {{x}} to {{y=here}}"]);
    const compiled = patterns.filter((p) => p.compiledIfAny).map((p) => p.format);
    expect(compiled.sort()).toEqual(["lazyone7 go {{x}}", "lazyone7 go {{x}} to {{y=here}}"]);
  });

  test("a bad format is still reported when the index is built", () => {
    const index = new AliasIndex([alias("bad", ["broken (unclosed {{x}}"]), alias("good", ["lazytwo {{x}}"])]);
    expect(index.problems.map((p) => p.format)).toEqual(["broken (unclosed {{x}}"]);
    expect(filed(index).map((p) => p.format)).toEqual(["lazytwo {{x}}"]);
  });
});

describe("a rebuild files the representations again without compiling them", () => {
  test("it reads the filings back from the last index and keeps what commands compiled", () => {
    const aliases = unique("rebuilt", 40);
    const first = new AliasIndex(aliases);
    first.match("rebuilt3 go a");
    const compiledBefore = new Map<string, CompiledFormat>();
    for (const p of filed(first)) if (p.compiledIfAny) compiledBefore.set(p.format, p.compiledIfAny);
    expect([...compiledBefore.keys()].sort()).toEqual(["rebuilt3 go {{x}}", "rebuilt3 go {{x}} to {{y=here}}"]);

    // A new alias set (one alias more, copies of the others, as a reload gives).
    const reloaded = [...aliases.map((a) => ({ ...a })), ...unique("rebuiltnew", 1)];
    const second = new AliasIndex(reloaded);
    const patterns = filed(second);
    expect(patterns).toHaveLength(82);
    // Only the formats tried before are compiled, and they are the same compiled objects.
    for (const p of patterns) expect(p.compiledIfAny).toBe(compiledBefore.get(p.format));
    for (const command of ["rebuilt3 go a", "rebuilt12 go b to c", "rebuiltnew0 go z", "rebuilt go", "nothing"]) {
      expect({ command, hits: hits(second.match(command, { strict: true })) }).toEqual({ command, hits: everyPattern(reloaded, command) });
    }
  });
});

describe("the trie finds every word at any fan-out", () => {
  // One first word; under it 3 (scanned), 30 (halved) and 100 (Map) next words, then a third level.
  const aliases: ActionAlias[] = [];
  for (const [group, n] of [["few", 3], ["some", 30], ["many", 100]] as const) {
    for (let i = 0; i < n; i++) aliases.push(alias(`${group}${i}`, [`fan ${group} w${(i * 7919) % 1000} {{x}}`, `fan ${group} w${(i * 7919) % 1000} deep {{x}}`]));
  }
  const index = new AliasIndex(aliases);

  test("every representation is found, and only it", () => {
    const commands: string[] = [];
    for (const a of aliases) for (const p of formatPatterns(a.formats)) commands.push(compileFormat(p.representation).exampleCommand());
    // Words just before, after and between the filed ones, and unknown groups.
    commands.push("fan some w0 x", "fan some w999 x", "fan many w1 x", "fan many w500 deep x", "fan few w x", "fan other w1 x", "fan", "fan many");
    for (const command of commands) expect({ command, hits: hits(index.match(command, { strict: true })) }).toEqual({ command, hits: everyPattern(aliases, command) });
    expect(commands.length).toBeGreaterThan(260);
  });

  test("the index built again from its own filings agrees", () => {
    const again = new AliasIndex(aliases.map((a) => ({ ...a })));
    for (const a of aliases) {
      const command = compileFormat(formatPatterns(a.formats)[1]!.representation).exampleCommand();
      expect(hits(again.match(command, { strict: true }))).toEqual(hits(index.match(command, { strict: true })));
    }
  });
});
