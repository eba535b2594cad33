import { describe, expect, test } from "bun:test";
import { aliasCli } from "../../../src/st2/aliases/cli.ts";
import { REFERENCE_DIR } from "../../support/reference.ts";

const FIXTURES = `${REFERENCE_DIR}/st2/aliases`;
const EXCHANGE = `${REFERENCE_DIR}/st2/exchange-aliases`;

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await aliasCli(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

describe("st2bot alias parse", () => {
  test("prints the parameters as JSON, exit 0", async () => {
    const r = await run("parse", "--format", "run {{cmd}} on {{hosts}}", "--command", "run date on localhost");
    expect(r).toEqual({ code: 0, stdout: '{"cmd":"date","hosts":"localhost"}\n', stderr: "" });
  });

  test("--name=value form", async () => {
    const r = await run("parse", "--format=acl {{a=test}}", "--command=acl");
    expect(r.stdout).toBe('{"a":"test"}\n');
  });

  test("no match: StackStorm's message on stderr, exit 1", async () => {
    const r = await run("parse", "--format", "foo bar ponies", "--command", "foo lulz ponies");
    expect(r).toEqual({ code: 1, stdout: "", stderr: `Command "foo lulz ponies" doesn't match format string "foo bar ponies"\n` });
  });

  test("invalid format: exit 2 with the reason", async () => {
    const r = await run("parse", "--format", "{{x}} {{x}}", "--command", "a b");
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith("invalid format: Python's re rejects the pattern StackStorm builds: redefinition of group name 'x' as group 2; was group 1");
  });

  test("missing options: usage, exit 2", async () => {
    const r = await run("parse", "--format", "x");
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith("st2bot alias: parse needs --format and --command\n");
  });
});

describe("st2bot alias match", () => {
  test("one match: ref, representation, params", async () => {
    const r = await run("match", "--aliases", FIXTURES, "--", "run", "date", "on", "localhost");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      ref: "aliases.alias_with_undefined_jinja_in_ack_format",
      representation: "run {{cmd}} on {{hosts}}",
      params: { cmd: "date", hosts: "localhost" },
    });
    expect(r.stderr).toBe("");
  });

  test("picked among several representations: chosen_among", async () => {
    const r = await run("match", "--aliases", `${EXCHANGE}/alertlogic`, "--", "alertlogic scan executions customer_id 42 nightly");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      ref: "alertlogic.list_scan_executions",
      representation: "alertlogic scan executions customer_id {{customer_id}} {{scan_title}}",
      params: { customer_id: "42", scan_title: "nightly" },
      chosen_among: ["alertlogic scan executions customer_id {{customer_id}} {{scan_title}}", "alertlogic scan executions {{scan_title}}"],
    });
  });

  test("--strict: StackStorm's ambiguity, candidates as the user would type them, exit 1", async () => {
    const r = await run("match", "--aliases", `${EXCHANGE}/alertlogic`, "--strict", "--", "alertlogic scan executions customer_id 42 nightly");
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "Command 'alertlogic scan executions customer_id 42 nightly' matched more than 1 pattern\n" +
        "Candidates:\n" +
        "  alertlogic scan executions [customer_id <customer_id>] <scan_title>  (alertlogic.list_scan_executions)\n" +
        "  alertlogic scan executions [customer_id <customer_id>] <scan_title>  (alertlogic.list_scan_executions)\n",
    });
  });

  test("match_multiple: one execution per hit", async () => {
    const r = await run("match", "--aliases", `${FIXTURES}/alias_match_multiple.yaml`, "--", "AB-1 is a duplicate of CD-2");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      ref: "aliases.alias_match_multiple",
      representation: "(?:\\b|^)duplicate of (?P<issue_key>[A-Z][A-Z0-9]+-[0-9]+)(?:\\b|$)",
      executions: [{ command: "duplicate of CD-2", params: { issue_key: "CD-2" } }],
    });
  });

  test("no match: message and suggestions, exit 1", async () => {
    const r = await run("match", "--aliases", EXCHANGE, "--", "alertlogc scan list");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toStartWith("warning: vyatta.cfg_ebgp: format ");
    expect(r.stderr).toContain("Command 'alertlogc scan list' matched no patterns\nDid you mean:\n  alertlogic scan list [customer_id <customer_id>]\n");
  });

  test("no match and nothing close: only the message", async () => {
    const r = await run("match", "--aliases", FIXTURES, "--", "qqqq");
    expect(r).toEqual({ code: 1, stdout: "", stderr: "Command 'qqqq' matched no patterns\n" });
  });

  test("several paths, --aliases=PATH form", async () => {
    const r = await run("match", `--aliases=${EXCHANGE}/hubot`, `${EXCHANGE}/duo`, "--", "duo auth ping");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).ref).toBe("duo.auth_ping");
  });

  test("no aliases found: exit 2", async () => {
    const r = await run("match", "--aliases", "/nonexistent/aliases", "--", "x");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("warning: /nonexistent/aliases: no such file or folder\nno action aliases found in /nonexistent/aliases\n");
  });

  test("usage errors: exit 2", async () => {
    expect((await run("match", "--aliases", FIXTURES)).code).toBe(2);
    expect((await run("match", "--", "x")).code).toBe(2);
    expect((await run("match", "--aliases", FIXTURES, "--bogus", "--", "x")).code).toBe(2);
    expect((await run("frobnicate")).code).toBe(2);
    expect((await run()).code).toBe(2);
  });
});

describe("st2bot alias --help", () => {
  test("prints usage on stdout, exit 0", async () => {
    for (const argv of [["--help"], ["-h"], ["help"], ["match", "--help"], ["parse", "--help"]]) {
      const r = await run(...argv);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("st2bot alias match --aliases PATH... [--strict] -- COMMAND");
      expect(r.stderr).toBe("");
    }
  });
});
