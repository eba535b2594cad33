/**
 * The shortcut reader of StackStorm's regex (plain text + parameter groups, no parse tree)
 * must report exactly what the full CPython-compatible parse reports: group names and
 * numbers, the anchors StackStorm adds, and the index hints. Checked on every real format
 * we have plus hand-picked near misses, where it must step aside for the full parse.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { compileFormat } from "../../../src/st2/aliases/format.ts";
import { indexHints, unpackHints } from "../../../src/st2/aliases/hints.ts";
import { loadAliasFiles } from "../../../src/st2/aliases/load.ts";
import { expandFormat, readParsedRegex, readPlainRegex, readRegex, type RegexFacts } from "../../../src/st2/aliases/template.ts";
import { formatPatterns } from "../../../src/st2/aliases/types.ts";
import { REFERENCE_DIR } from "../../support/reference.ts";

/** What a reader reports, comparable with toEqual (an error becomes its message). */
function outcome(read: (reg: string) => RegexFacts | null, reg: string): object | null {
  try {
    const facts = read(reg);
    if (!facts) return null;
    return { names: facts.names, groups: facts.groups, begin: facts.begin, end: facts.end, hints: unpackHints(indexHints(facts.top, facts.flags)) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

const HAND_PICKED = [
  "run {{cmd}} on {{hosts}}",
  "deploy {{ app }} to {{env = staging}}",
  "deploy {{app}}{{env=prod}}",
  "say {{text}}\tloudly {{n=3}} times",
  "ping\u001c{{host}}",
  "déployer {{x}} sur {{y=ici}}",
  "issue #{{n}} closed } ] done",
  "",
  "   ",
  "duo ping",
  "{{choice}} cross the {{target}}",
  "{{a}} {{a}}",
  "x {{a-b}} y",
  "x {{a>b}}",
  "x {{é}}",
  "x {{a=1}} {{a}}",
  "x {{a\n=1}}",
  "x {{a={{b}}}}",
  "x {{a{{b=1}}}}",
  "pings? {{host}}",
  "(show|sh) ip {{x}}",
  "^foo {{x}}",
  "foo {{x}}$",
  "\\bfoo {{x}}",
  "a.b {{x}}",
  "(?x) a b {{x}}",
  "(?i)restart {{svc}}",
  'x ["\\\']?(?P<y>(?:(?<=\\\').+?(?=\\\')|(?<=").+?(?=")|{.+?}|.+?))["\\\']?',
  'x ["\\\']?(?P<y>(?:(?<=\\\').+?(?=\\\')|(?<=").+?(?=")|{.+?}|.+?))["\\\']',
  "emoji 🚀 {{x}}",
];

async function corpus(): Promise<string[]> {
  const formats = new Set(HAND_PICKED);
  for (const dir of ["aliases", "exchange-aliases"]) {
    for (const alias of (await loadAliasFiles([`${REFERENCE_DIR}/st2/${dir}`])).aliases) {
      for (const { representation } of formatPatterns(alias.formats)) formats.add(representation);
    }
  }
  const vectors = JSON.parse(readFileSync(`${REFERENCE_DIR}/vectors/alias-parse.json`, "utf8")) as { cases: { format: string }[] };
  for (const v of vectors.cases) formats.add(v.format);
  return [...formats];
}

describe("the shortcut reader agrees with the full parse", () => {
  test("on every reference format, and it takes most of them", async () => {
    const formats = await corpus();
    let shortcuts = 0;
    for (const format of formats) {
      const { reg } = expandFormat(format);
      const full = outcome(readParsedRegex, reg);
      const plain = outcome(readPlainRegex, reg);
      if (plain !== null) {
        shortcuts++;
        expect({ format, facts: plain as object | null }).toEqual({ format, facts: full });
      }
      expect({ format, facts: outcome(readRegex, reg) }).toEqual({ format, facts: full });
    }
    expect(formats.length).toBeGreaterThan(200);
    expect(shortcuts).toBeGreaterThan(formats.length / 2);
  });

  test("plain formats take the shortcut; regex syntax and odd names do not", () => {
    const plain = (format: string) => readPlainRegex(expandFormat(format).reg) !== null;
    for (const f of ["run {{cmd}} on {{hosts}}", "deploy {{ app }} to {{env = staging}}", "issue #{{n}} closed } ] done", "déployer {{x}}", ""]) {
      expect({ f, plain: plain(f) }).toEqual({ f, plain: true });
    }
    for (const f of ["{{a}} {{a}}", "x {{a-b}} y", "x {{é}}", "pings? {{host}}", "^foo {{x}}", "a.b {{x}}", "(?x) a b {{x}}", "emoji 🚀 {{x}}"]) {
      expect({ f, plain: plain(f) }).toEqual({ f, plain: false });
    }
  });

  test("formats read by the shortcut still match and fail as StackStorm's do", () => {
    const f = compileFormat("deploy {{app}} to {{env=staging}}");
    expect(f.params).toEqual(["app", "env"]);
    expect(f.parse("deploy web to prod")).toEqual({ app: "web", env: "prod" });
    expect(f.parse("deploy web to")).toEqual({ app: "web", env: "staging" });
    expect(() => f.parse("deploy")).toThrow(`Command "deploy" doesn't match format string`);
    expect(() => compileFormat("x {{a}} {{a}}")).toThrow("redefinition of group name 'a'");
  });
});
