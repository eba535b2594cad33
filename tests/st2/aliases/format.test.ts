import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { prepareCommand } from "../../../src/st2/aliases/command.ts";
import { AliasParseError, compileFormat, FormatError, NoValueError, ParseMismatchError, parseFormat, parseMultiple } from "../../../src/st2/aliases/format.ts";
import { compilePython } from "../../../src/st2/aliases/pyregex/emit.ts";
import { parsePython } from "../../../src/st2/aliases/pyregex/parse.ts";
import { PyRegexError, UnsupportedRegexError } from "../../../src/st2/aliases/pyregex/errors.ts";
import { REFERENCE_DIR } from "../../support/reference.ts";

interface Vector {
  format: string;
  command: string;
  params?: Record<string, string>;
  error?: string;
}

const VECTORS = (JSON.parse(readFileSync(`${REFERENCE_DIR}/vectors/alias-parse.json`, "utf8")) as { cases: Vector[] }).cases;

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe("alias-parse.json (StackStorm's own parser tests)", () => {
  for (const v of VECTORS) {
    test(`${JSON.stringify(v.format)} ← ${JSON.stringify(v.command)}`, () => {
      if (v.error === undefined) {
        expect(parseFormat(v.format, v.command)).toEqual(v.params ?? {});
        return;
      }
      const err = errorOf(() => parseFormat(v.format, v.command));
      expect(err).toBeInstanceOf(ParseMismatchError);
      expect((err as Error).message).toBe(v.error);
    });
  }
});

describe("parseFormat", () => {
  test("a mismatch names the command and the format exactly", () => {
    const err = errorOf(() => parseFormat("run {{cmd}} on {{hosts}}", "walk the dog"));
    expect(err).toBeInstanceOf(ParseMismatchError);
    expect(err).toBeInstanceOf(AliasParseError);
    expect((err as Error).message).toBe(`Command "walk the dog" doesn't match format string "run {{cmd}} on {{hosts}}"`);
  });

  test("a non-empty format with nothing supplied is StackStorm's 'No value' ParseException", () => {
    const err = errorOf(() => parseFormat("(?:foo)?", ""));
    expect(err).toBeInstanceOf(NoValueError);
    expect((err as Error).message).toBe("No value supplied and no default value found.");
  });

  test("parameters keep Python's dict order: groups, then trailing pairs", () => {
    expect(Object.keys(parseFormat("x {{b}} {{a=1}}", "x 2 z=3 b=9"))).toEqual(["b", "a", "z"]);
  });

  test("trailing pairs override captured values", () => {
    expect(parseFormat("x {{a}}", "x 1 a=2")).toEqual({ a: "2" });
  });

  test("a key named __proto__ stays a plain parameter", () => {
    const params = parseFormat("x", "x __proto__=1");
    expect(Object.keys(params)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(params)).toBe(Object.prototype);
  });

  test("unmatched optional groups are left out (StackStorm reports them as null)", () => {
    expect(parseFormat("github get user( type {{github_type}})? {{user}}", "github get user octocat")).toEqual({ user: "octocat" });
  });

  test("an invalid format is a FormatError with Python's reason and the derived pattern", () => {
    const err = errorOf(() => parseFormat("{{x}} and {{x}}", "a and b"));
    expect(err).toBeInstanceOf(FormatError);
    const fe = err as FormatError;
    expect(fe.reason).toContain("redefinition of group name 'x' as group 2; was group 1");
    expect(fe.pattern).toContain("(?P<x>");
    expect(fe.message).toStartWith('Invalid alias format "{{x}} and {{x}}": ');
  });

  test("Python-only and JavaScript-less constructs are reported, never thrown raw", () => {
    for (const format of ["a(?(1)b|c)", "^(?>a)b", "^a*+b", "\\N{EM DASH} {{x}}"]) {
      const err = errorOf(() => compileFormat(format));
      expect(err).toBeInstanceOf(FormatError);
      expect((err as FormatError).reason).toStartWith("not supported by the local matcher:");
    }
  });
});

describe("compileFormat", () => {
  test("is compiled once and reused", () => {
    const a = compileFormat("deploy {{app}} to {{env=staging}}");
    expect(compileFormat("deploy {{app}} to {{env=staging}}")).toBe(a);
    expect(a.params).toEqual(["app", "env"]);
    expect(a.defaults).toEqual([["env", "staging"]]);
    expect(a.parse("deploy web to prod")).toEqual({ app: "web", env: "prod" });
    expect(a.parse("deploy web to")).toEqual({ app: "web", env: "staging" });
  });

  test("exposes the Python regex StackStorm builds", () => {
    expect(compileFormat("foo {{a}}").pattern).toBe(
      String.raw`^\s*foo ["\']?(?P<a>(?:(?<=\').+?(?=\')|(?<=").+?(?=")|{.+?}|.+?))["\']?\s*$`,
    );
    // An own start anchor (even only in the second alternative) suppresses StackStorm's.
    expect(compileFormat("foo|^bar").pattern).toBe(String.raw`foo|^bar\s*$`);
    expect(compileFormat("^foo|bar").pattern).toBe(String.raw`^\s*^foo|bar\s*$`);
  });

  test("invalid formats are cached as errors too", () => {
    expect(() => compileFormat("foo (")).toThrow(FormatError);
    expect(() => compileFormat("foo (")).toThrow(FormatError);
  });
});

describe("parseMultiple (match_multiple)", () => {
  const format = "(?:\\b|^)duplicate of (?P<issue_key>[A-Z][A-Z0-9]+-[0-9]+)(?:\\b|$)";

  test("every regex hit is one parameter set, in order", () => {
    expect(parseMultiple(format, "JKROWLING-4 is a duplicate of JRRTOLKIEN-24 which is a duplicate of DRSEUSS-12")).toEqual([
      { issue_key: "JRRTOLKIEN-24" },
      { issue_key: "DRSEUSS-12" },
    ]);
  });

  test("trailing pairs apply to every hit", () => {
    expect(parseMultiple(format, "duplicate of AB-1 and duplicate of CD-2 prio=high")).toEqual([
      { issue_key: "AB-1", prio: "high" },
      { issue_key: "CD-2", prio: "high" },
    ]);
  });

  test("no hit is an empty list", () => {
    expect(parseMultiple(format, "nothing here")).toEqual([]);
  });
});

describe("prepareCommand (trailing key=value pairs)", () => {
  test("cuts every occurrence of the trailing text, like Python's str.replace", () => {
    const p = prepareCommand("foo x=1 bar x=1");
    expect(p.pairs).toEqual([["x", "1"]]);
    expect(p.stream).toBe(" foo bar ");
  });

  test("quoted, braced and empty values", () => {
    const p = prepareCommand(`run a="b c" d='e f' g={"h": 1} i="" j=k`);
    expect(p.pairs).toEqual([
      ["a", "b c"],
      ["d", "e f"],
      ["g", '{"h": 1}'],
      ["i", ""],
      ["j", "k"],
    ]);
    expect(p.stream).toBe(" run ");
    expect(p.blank).toBe(false);
  });

  test("a pairs-only command is blank", () => {
    expect(prepareCommand("a=1 b=2").blank).toBe(true);
  });
});

describe("Python re → JavaScript translation", () => {
  const search = (pattern: string, text: string, flags = {}) => compilePython(pattern, flags).regex.exec(text)?.[0] ?? null;

  test("$ also matches before a final newline; \\Z does not", () => {
    expect(search("a$", "a\n")).toBe("a");
    expect(search("a\\Z", "a\n")).toBeNull();
    expect(search("a$", "a\n\n")).toBeNull();
  });

  test("\\s is Python's whitespace", () => {
    expect(search("\\s", "\x1c")).toBe("\x1c");
    expect(search("\\s", "\ufeff")).toBeNull();
    expect(search("[^\\S]", "\x85")).toBe("\x85");
  });

  test("\\w, \\d and \\b are Unicode-aware unless (?a)", () => {
    expect(search("\\w+", "héllo")).toBe("héllo");
    expect(search("(?a)\\w+", "héllo")).toBe("h");
    expect(search("\\d+", "١٢٣")).toBe("١٢٣");
    expect(search("\\bé", "é")).toBe("é");
  });

  test("class syntax: ] first is literal, complemented categories inside classes", () => {
    expect(search("[]a]+", "x]a]")).toBe("]a]");
    expect(search("[\\Sa]+", "  ab ")).toBe("ab");
    expect(search("[^\\Wb]+", "ab a")).toBe("a");
  });

  test("a literal { that is not a quantifier, and {,n}", () => {
    expect(search("a{b", "a{b")).toBe("a{b");
    expect(search("a{,2}b", "aaab")).toBe("aab");
  });

  test("scoped and global flags", () => {
    expect(search("(?i:ab)c", "ABc")).toBe("ABc");
    expect(search("(?i:ab)c", "ABC")).toBeNull();
    expect(search("(?i)abc", "ABC")).toBe("ABC");
    expect(search("(?x) a b  # comment", "ab")).toBe("ab");
  });

  test("an optional group that matches nothing is set to '' as in Python", () => {
    const re = compilePython("(?P<x>a?)?b");
    const m = re.regex.exec("b");
    expect(m && re.group(m, 1)).toBe("");
  });

  test("Python's errors, with CPython's wording and position", () => {
    const err = errorOf(() => parsePython("ab)"));
    expect(err).toBeInstanceOf(PyRegexError);
    expect((err as Error).message).toBe("unbalanced parenthesis at position 2");
    expect(() => parsePython("(?<=a+)b")).toThrow("look-behind requires fixed-width pattern");
    expect(() => parsePython("a**")).toThrow("multiple repeat at position 2");
    expect(() => parsePython("*a")).toThrow("nothing to repeat at position 0");
    expect(() => parsePython("\\")).toThrow("bad escape (end of pattern) at position 0");
    expect(() => parsePython("(?P<a>x)(?P<a>y)")).toThrow("redefinition of group name 'a' as group 2; was group 1");
    expect(() => parsePython("a(?i)b")).toThrow("global flags not at the start of the expression");
    expect(() => parsePython("(a)(?(1)b|c)")).toThrow(UnsupportedRegexError);
  });
});

describe("exampleCommand and index hints", () => {
  test("an example command is built from the regex and parses back", () => {
    const f = compileFormat("(create |spin up )?(an? )?(new )?({{instance_type=t2.medium}} )?{{ distro }} (vm|box) {{ hostname }} for {{ purpose }}( with {{ role=default }} role)?");
    const command = f.exampleCommand((name) => name.toUpperCase());
    expect(command).toBe("INSTANCE_TYPE DISTRO vm HOSTNAME for PURPOSE with ROLE role");
    expect(f.parse(command)).toEqual({ instance_type: "INSTANCE_TYPE", distro: "DISTRO", hostname: "HOSTNAME", purpose: "PURPOSE", role: "ROLE" });
    expect(compileFormat("(?:\\b|^)fixes (?P<k>[A-Z][A-Z0-9]+-[0-9]+)(?:\\b|$)").exampleCommand()).toBe("fixes AA-0");
  });

  test("leading words: literal words that end in whitespace or at the end", () => {
    expect(compileFormat("aws ec2 start {{InstanceIds}}").hints.paths).toEqual([["aws", "ec2", "start"]]);
    expect(compileFormat("(show|sh) ip (route|ro) on {{deviceIP}}").hints.paths).toEqual([
      ["show", "ip", "route", "on"],
      ["show", "ip", "ro", "on"],
      ["sh", "ip", "route", "on"],
      ["sh", "ip", "ro", "on"],
    ]);
    expect(compileFormat("duo ping").hints.paths).toEqual([["duo", "ping"]]);
    // Glued to a parameter, quantified, or case-insensitive: not a whole word.
    expect(compileFormat("bsd license {{address}} for {{bw}}mb").hints.paths).toEqual([["bsd", "license"]]);
    expect(compileFormat("pings? {{host}}").hints.paths).toEqual([]);
    expect(compileFormat("(?i)^\\s*restart {{svc}}").hints.paths).toEqual([]);
    expect(compileFormat("{{choice}} cross the {{target}}").hints).toMatchObject({ paths: [], word: "cross" });
    expect(compileFormat("run {{cmd}} on {{hosts}}").hints.literals).toEqual(["run ", " on "]);
  });
});
